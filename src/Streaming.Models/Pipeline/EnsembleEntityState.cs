using Streaming.Models.Serialization;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

/// <summary>
/// What the ensemble keeps per entity: its recent raw feature vectors (a ring of the last 64 windows) for the neural
/// members' sequences, and one <see cref="AnomalyLikelihood"/> per neural member that turns its raw scores into tails.
/// </summary>
internal sealed partial class EnsembleEntityState
{
    /// <summary>The ensemble's ring: the last 64 windows (what snapshots store).</summary>
    public const int DefaultCapacity = 64;
    private float[] _ring = [];
    private int _width;
    private int _next;
    private readonly Dictionary<string, AnomalyLikelihood> _likelihoods = new(StringComparer.Ordinal);

    /// <summary>A ring of <paramref name="capacity"/> windows; the ensemble's (and its snapshots') is <see cref="DefaultCapacity"/>.</summary>
    public EnsembleEntityState(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    /// <summary>The bundle this entity's last window was scored with; a change starts its members' likelihoods over.</summary>
    public ModelBundle? ScoredBy { get; set; }

    public void Push(FeatureLayout layout, ClosedWindow window)
    {
        if (_width != layout.Count)
        {
            // A bundle with another feature layout: the old vectors mean nothing to it.
            _width = layout.Count;
            _ring = new float[Capacity * _width];
            Count = 0;
            _next = 0;
        }
        layout.Extract(window, _ring.AsSpan(_next * _width, _width));
        _next = (_next + 1) % Capacity;
        Count = Math.Min(Count + 1, Capacity);
    }

    /// <summary>The last <paramref name="length"/> vectors, oldest first, missing values filled and normalised.</summary>
    public ReadOnlySpan<float> Sequence(int length, ModelManifest manifest, float[] scratch)
    {
        var raw = scratch.AsSpan(0, length * _width);
        for (var i = 0; i < length; i++)
        {
            var slot = ((_next - length + i) % Capacity + Capacity) % Capacity;
            _ring.AsSpan(slot * _width, _width).CopyTo(raw.Slice(i * _width, _width));
        }
        FeatureLayout.FillMissing(raw, manifest.Normalization.Mean);
        var normalized = scratch.AsSpan(length * _width, length * _width);
        manifest.Normalize(raw, normalized);
        return normalized;
    }

    /// <summary>The likelihood of one member (named with its version), created on first use.</summary>
    public AnomalyLikelihood Likelihood(string member, LikelihoodOptions options)
    {
        if (!_likelihoods.TryGetValue(member, out var likelihood))
            _likelihoods[member] = likelihood = new AnomalyLikelihood(options);
        return likelihood;
    }

    public void ForgetLikelihoods() => _likelihoods.Clear();
}
