using Streaming.Models.Serialization;

namespace Streaming.Models.Scoring;

/// <summary>Builds the right scorer or predictor from an artifact's manifest kind.</summary>
internal static class ModelLoader
{
    public static IAnomalyScorer LoadScorer(ModelArtifact artifact) => artifact.Manifest.Kind switch
    {
        ModelKind.LstmForecaster => LstmForecaster.FromArtifact(artifact),
        ModelKind.Vae => VaeScorer.FromArtifact(artifact),
        _ => throw new InvalidDataException($"A {artifact.Manifest.Kind} model is not an anomaly scorer."),
    };

    public static IAnomalyScorer LoadScorer(string directory) => LoadScorer(ModelArtifact.Load(directory));

    public static IDowntimePredictor LoadDowntimePredictor(string directory) => DowntimePredictor.FromArtifact(ModelArtifact.Load(directory));

    internal static void RequireKind(ModelArtifact artifact, ModelKind expected)
    {
        if (artifact.Manifest.Kind != expected)
        {
            throw new InvalidDataException($"Expected a {expected} artifact, got {artifact.Manifest.Kind}.");
        }
    }
}
