namespace Streaming.Models.Thresholds;

/// <summary>
/// Telemanom's error-thresholding settings (Hundman et al., KDD 2018; the published defaults): errors are smoothed over
/// <see cref="SmoothingFraction"/> of the window, the threshold is re-chosen every <see cref="EvaluateEvery"/> errors over
/// the last <see cref="WindowSize"/> (30 batches of 70), each flagged point is widened by <see cref="ErrorBuffer"/> points,
/// and a flagged error must stand <see cref="PruningFactor"/> above the largest unflagged one.
/// </summary>
public sealed record TelemanomOptions
{
    public int WindowSize { get; init; } = 2100;

    public int EvaluateEvery { get; init; } = 70;

    public double SmoothingFraction { get; init; } = 0.05;

    public int ErrorBuffer { get; init; } = 100;

    /// <summary>
    /// Rows a flag is held after the error that raised it (the online half of telemanom's ±<see cref="ErrorBuffer"/>
    /// widening; null: <see cref="ErrorBuffer"/>).
    /// </summary>
    public int? Hold { get; init; }

    /// <summary>The hold in force.</summary>
    public int HoldRows => Hold ?? ErrorBuffer;

    public double PruningFactor { get; init; } = 0.13;

    /// <summary>Errors seen before the first threshold (telemanom's l_s = 250 history).</summary>
    public int MinimumErrors { get; init; } = 250;

    /// <summary>Telemanom's floor for errors too small to matter, as a share of the values' 5–95 percentile range (and in value units).</summary>
    public double MinimumErrorShare { get; init; } = 0.05;

    /// <summary>Also flag errors unusually far BELOW their mean, as telemanom does (its errors mirrored about the window mean).</summary>
    public bool InvertedErrors { get; init; } = true;

    public TelemanomOptions Validated()
    {
        if (WindowSize < 2 || EvaluateEvery < 1 || SmoothingFraction <= 0 || ErrorBuffer < 0 || PruningFactor is < 0 or >= 1
            || Hold < 0 || MinimumErrors < 2 || MinimumErrors > WindowSize || MinimumErrorShare < 0)
        {
            throw new ArgumentException("Telemanom:* must have WindowSize >= 2, EvaluateEvery >= 1, SmoothingFraction > 0, ErrorBuffer >= 0, " +
                $"PruningFactor in [0, 1), Hold >= 0 when set, MinimumErrors in [2, WindowSize] and MinimumErrorShare >= 0; were {this}.");
        }

        return this;
    }
}

/// <summary>One error's verdict: its smoothed value, the threshold in force, and the evidence (≥ 1 is anomalous).</summary>
internal readonly record struct ErrorVerdict(double Smoothed, double Threshold, double Evidence)
{
    public bool IsAnomaly => Evidence >= 1;
}

/// <summary>
/// Telemanom's dynamic thresholding, online: each absolute forecast error is EWMA-smoothed (span = window ×
/// smoothing fraction) and judged against a threshold re-chosen every <see cref="TelemanomOptions.EvaluateEvery"/>
/// errors by <see cref="NonparametricThreshold"/> over the last <see cref="TelemanomOptions.WindowSize"/> smoothed
/// errors. The threshold in force is the largest of ε, telemanom's pruning bound (the largest smoothed error below ε over
/// 1 - p: a flagged error must exceed it by the share p) and the floor of errors too small to matter; when the window's
/// errors are small against its values (telemanom's scale check) nothing is flagged. A point's evidence is its smoothed
/// error over that threshold; the verdict's evidence is the largest of the last <see cref="TelemanomOptions.HoldRows"/>
/// points' (the error buffer, forward only: online, a flag cannot reach back). With
/// <see cref="TelemanomOptions.InvertedErrors"/> the same search runs on the errors mirrored about the window's mean
/// (2·mean − e: drops in error, e.g. a signal that went flat), and a point's evidence is the larger of the two.
/// Preallocated; no allocation per error.
/// </summary>
internal sealed partial class DynamicErrorThreshold
{
    private readonly TelemanomOptions _options;
    private readonly ExponentialSmoothing _smoothing;
    private readonly double[] _errors;
    private readonly double[] _values;
    private readonly double[] _scratch;
    private readonly double[] _evidence;
    private long _seen;
    private int _sinceEvaluation;
    private double _threshold = double.NaN;
    private double _invertedThreshold = double.PositiveInfinity;
    private double _mean;

    public DynamicErrorThreshold(TelemanomOptions options)
    {
        _options = options.Validated();
        _smoothing = new ExponentialSmoothing(Math.Max(1, (int)(options.WindowSize * options.SmoothingFraction)));
        _errors = new double[options.WindowSize];
        _values = new double[options.WindowSize];
        _scratch = new double[options.WindowSize];
        _evidence = new double[Math.Max(1, options.HoldRows)];
    }

    /// <summary>The threshold in force (NaN before the first evaluation, +∞ while the scale check fails).</summary>
    public double Threshold => _threshold;

    /// <summary>Adds one absolute forecast error and the value it was made on; null until <see cref="TelemanomOptions.MinimumErrors"/> were seen.</summary>
    public ErrorVerdict? Update(double absoluteError, double value)
    {
        var smoothed = _smoothing.Update(absoluteError);
        var slot = (int)(_seen % _errors.Length);
        _errors[slot] = smoothed;
        _values[slot] = value;
        _seen++;
        _sinceEvaluation++;
        if (_seen < _options.MinimumErrors)
        {
            return null;
        }

        if (double.IsNaN(_threshold) || _sinceEvaluation >= _options.EvaluateEvery)
        {
            Evaluate();
            _sinceEvaluation = 0;
        }

        var evidence = Math.Max(Evidence(smoothed, _threshold), Evidence((2 * _mean) - smoothed, _invertedThreshold));
        _evidence[(int)(_seen % _evidence.Length)] = evidence;
        var held = evidence;
        var count = (int)Math.Min(_seen - _options.MinimumErrors + 1, _evidence.Length);
        for (var k = 0; k < count; k++)
        {
            held = Math.Max(held, _evidence[(int)((_seen - k) % _evidence.Length)]);
        }

        return new ErrorVerdict(smoothed, _threshold, held);
    }

    /// <summary>Re-chooses the thresholds over the window: for the errors, and for the errors mirrored about their mean.</summary>
    private void Evaluate()
    {
        var n = (int)Math.Min(_seen, _errors.Length);
        var errors = _errors.AsSpan(0, n);
        var values = _scratch.AsSpan(0, n);
        _values.AsSpan(0, n).CopyTo(values);
        values.Sort();
        var range = Percentile.OfSorted(values, 95) - Percentile.OfSorted(values, 5);
        var valueStd = Std(values);
        var errorStd = Std(errors);
        double sum = 0;
        foreach (var e in errors)
        {
            sum += e;
        }

        _mean = sum / n;
        _threshold = Bound(errors, range, valueStd, errorStd);
        if (_options.InvertedErrors)
        {
            var inverted = _scratch.AsSpan(0, n);
            for (var i = 0; i < n; i++)
            {
                inverted[i] = (2 * _mean) - errors[i];
            }

            _invertedThreshold = Bound(inverted, range, valueStd, errorStd);
        }
    }

    /// <summary>
    /// The threshold in force over <paramref name="errors"/>: the largest of ε, the pruning bound and the floor; +∞ when
    /// telemanom's scale check says these errors are too small against the values to flag anything.
    /// </summary>
    private double Bound(ReadOnlySpan<double> errors, double range, double valueStd, double errorStd)
    {
        var epsilon = NonparametricThreshold.Find(errors, _options.ErrorBuffer).Epsilon;
        var maxError = double.NegativeInfinity;
        var belowMax = 0.0;
        foreach (var e in errors)
        {
            maxError = Math.Max(maxError, e);
            if (e < epsilon)
            {
                belowMax = Math.Max(belowMax, e);
            }
        }

        var share = _options.MinimumErrorShare;
        if (!(errorStd > share * valueStd || maxError > share * range) || !(maxError > share))
        {
            return double.PositiveInfinity;
        }

        return Math.Max(Math.Max(epsilon, belowMax / (1 - _options.PruningFactor)), share * range);
    }

    private static double Evidence(double error, double threshold) => double.IsPositiveInfinity(threshold) ? 0 : Math.Max(0, error / threshold);

    private static double Std(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (var v in values)
        {
            sum += v;
        }

        var mean = sum / values.Length;
        double squares = 0;
        foreach (var v in values)
        {
            squares += (v - mean) * (v - mean);
        }

        return Math.Sqrt(squares / values.Length);
    }
}
