namespace Streaming.Processing.Scoring.Detection;

/// <summary>
/// The last few windows' signed z-scores and their Stouffer combination, |Σ z| / √k: independent ordinary windows stay
/// ordinary combined, while windows that keep falling on the same side of the expectation add up. Zero until k windows
/// have been seen.
/// </summary>
internal sealed partial class SustainedDeviation(int windows)
{
    private readonly double[] _recent = new double[windows];
    private int _next;
    private int _count;

    /// <summary>Adds the latest signed z and returns the combined z of the last k windows (0 while fewer have been seen).</summary>
    public double Add(double signedZ)
    {
        _recent[_next] = signedZ;
        _next = (_next + 1) % _recent.Length;
        if (_count < _recent.Length)
            _count++;
        if (_count < _recent.Length)
            return 0;
        var sum = 0.0;
        foreach (var z in _recent)
            sum += z;
        return Math.Abs(sum) / Math.Sqrt(_recent.Length);
    }
}
