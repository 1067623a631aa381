namespace Streaming.Evaluation.Nab;

/// <summary>A detector under NAB evaluation: one anomaly score in [0, 1] per row of a file, computed causally.</summary>
internal interface INabDetector
{
    /// <summary>The name used for result directories and files (NAB: lower-case, no spaces).</summary>
    string Name { get; }

    double[] Detect(NabFile file);
}
