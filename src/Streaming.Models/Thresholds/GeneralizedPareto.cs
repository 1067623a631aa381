namespace Streaming.Models.Thresholds;

/// <summary>A generalised Pareto distribution fitted to excesses Y = X - t over a threshold t.</summary>
internal readonly record struct GeneralizedPareto(double Gamma, double Sigma)
{
    /// <summary>
    /// Maximum-likelihood fit by Grimshaw's method (as used by SPOT, Siffer et al. 2017): the MLE satisfies
    /// u(x)·v(x) = 1 with u(x) = mean 1/(1+xY), v(x) = 1 + mean log(1+xY), γ = v(x) - 1, σ = γ/x. All roots in the
    /// admissible intervals are found by scanning for sign changes and bisection; the exponential case (γ = 0) is
    /// always a candidate, and the candidate with the highest likelihood wins.
    /// </summary>
    public static GeneralizedPareto FitGrimshaw(ReadOnlySpan<double> excesses)
    {
        if (excesses.Length == 0)
        {
            throw new ArgumentException("At least one excess is needed to fit a tail.", nameof(excesses));
        }

        double min = double.MaxValue, max = 0, mean = 0;
        foreach (var y in excesses)
        {
            min = Math.Min(min, y);
            max = Math.Max(max, y);
            mean += y;
        }

        mean /= excesses.Length;
        var best = new GeneralizedPareto(0, Math.Max(mean, 1e-12));
        var bestLikelihood = LogLikelihood(excesses, best);
        if (max <= 0)
        {
            return best;
        }

        var epsilon = Math.Min(1e-9, 0.5 / max);
        Span<double> roots = stackalloc double[32];
        var count = 0;

        // Negative roots lie in (-1/Ymax, 0); positive ones below 2(Ȳ - Ymin)/Ymin² (Grimshaw 1993).
        count = FindRoots(excesses, (-1 / max) + epsilon, -epsilon, logarithmic: false, roots, count);
        var upper = min > 0 ? 2 * (mean - min) / (min * min) : 1e6 / mean;
        if (upper > epsilon)
        {
            count = FindRoots(excesses, epsilon, Math.Min(upper, 1e8 / mean), logarithmic: true, roots, count);
        }

        for (var i = 0; i < count; i++)
        {
            var (_, v) = Uv(excesses, roots[i]);
            var gamma = v - 1;
            var candidate = new GeneralizedPareto(gamma, gamma / roots[i]);
            if (candidate.Sigma <= 0 || !double.IsFinite(candidate.Sigma))
            {
                continue;
            }

            var likelihood = LogLikelihood(excesses, candidate);
            if (likelihood > bestLikelihood)
            {
                best = candidate;
                bestLikelihood = likelihood;
            }
        }

        return best;
    }

    public static double LogLikelihood(ReadOnlySpan<double> excesses, GeneralizedPareto gpd)
    {
        var n = excesses.Length;
        if (gpd.Gamma == 0)
        {
            var sum = 0.0;
            foreach (var y in excesses)
            {
                sum += y;
            }

            return (-n * Math.Log(gpd.Sigma)) - (sum / gpd.Sigma);
        }

        var total = 0.0;
        foreach (var y in excesses)
        {
            var term = 1 + (gpd.Gamma * y / gpd.Sigma);
            if (term <= 0)
            {
                return double.NegativeInfinity;
            }

            total += Math.Log(term);
        }

        return (-n * Math.Log(gpd.Sigma)) - ((1 + (1 / gpd.Gamma)) * total);
    }

    /// <summary>The quantile exceeded with probability <paramref name="risk"/> overall, given t and the excess rate Nt/n.</summary>
    public double Quantile(double threshold, double risk, int observations, int peaks)
    {
        var r = risk * observations / peaks;
        return Gamma == 0
            ? threshold - (Sigma * Math.Log(r))
            : threshold + (Sigma / Gamma * (Math.Pow(r, -Gamma) - 1));
    }

    private static int FindRoots(ReadOnlySpan<double> excesses, double from, double to, bool logarithmic, Span<double> roots, int count)
    {
        const int gridPoints = 200;
        var previousX = from;
        var previousW = W(excesses, from);
        for (var i = 1; i <= gridPoints && count < roots.Length; i++)
        {
            var x = logarithmic
                ? from * Math.Pow(to / from, (double)i / gridPoints)
                : from + ((to - from) * i / gridPoints);
            var w = W(excesses, x);
            if (double.IsFinite(w) && double.IsFinite(previousW) && Math.Sign(w) != Math.Sign(previousW))
            {
                roots[count++] = Bisect(excesses, previousX, x, previousW);
            }

            previousX = x;
            previousW = w;
        }

        return count;
    }

    private static double Bisect(ReadOnlySpan<double> excesses, double lo, double hi, double wLo)
    {
        for (var iteration = 0; iteration < 100; iteration++)
        {
            var mid = 0.5 * (lo + hi);
            var wMid = W(excesses, mid);
            if (Math.Sign(wMid) == Math.Sign(wLo))
            {
                lo = mid;
                wLo = wMid;
            }
            else
            {
                hi = mid;
            }

            if (hi - lo <= 1e-12 * Math.Max(1, Math.Abs(mid)))
            {
                break;
            }
        }

        return 0.5 * (lo + hi);
    }

    private static double W(ReadOnlySpan<double> excesses, double x)
    {
        var (u, v) = Uv(excesses, x);
        return (u * v) - 1;
    }

    private static (double U, double V) Uv(ReadOnlySpan<double> excesses, double x)
    {
        double u = 0, v = 0;
        foreach (var y in excesses)
        {
            var s = 1 + (x * y);
            u += 1 / s;
            v += Math.Log(s);
        }

        return (u / excesses.Length, 1 + (v / excesses.Length));
    }
}
