namespace Streaming.Contracts;

/// <summary>
/// The text .NET's shortest round-trip formatting (<c>double.ToString()</c>, <see cref="System.Text.Json.Utf8JsonWriter"/>)
/// gives a number that is an integer below 10^15 or has at most four decimals and magnitude below 10^9, found without the
/// shortest-digits search: the first <c>k</c> in 0…4 for which the nearest multiple of 10^−k parses back to the value is the
/// shortest form (the multiples are so far apart at these magnitudes that at most one of each spacing round-trips, and a
/// value below 10^15 and at least 10^−4 is written in fixed notation). Anything else, −0 and non-finite values included, is
/// left to the caller.
/// </summary>
internal static class ShortDecimal
{
    public const int MaxLength = 24;

    private const int MaxDecimals = 4;
    // Below this magnitude a double's rounding interval is far narrower than 10^−4, which the uniqueness argument needs.
    private const double MaxFractional = 1e9;
    // Integers up to here are exact doubles and are written in fixed notation (10^15 would be "1E+15").
    private const double MaxInteger = 1e15;

    private static readonly double[] Powers = [1, 10, 100, 1000, 10000];

    public static bool TryFormat(double value, Span<byte> destination, out int written)
    {
        written = 0;
        var magnitude = Math.Abs(value);
        // NaN fails every comparison; −0 would be written "-0", which the caller's formatter does.
        if (!(magnitude < MaxInteger) || BitConverter.DoubleToInt64Bits(value) == long.MinValue || destination.Length < MaxLength)
            return false;
        var decimals = -1;
        long scaled = 0;
        if (Math.Floor(magnitude) == magnitude)
        {
            (decimals, scaled) = (0, (long)magnitude);
        }
        else if (magnitude < MaxFractional)
        {
            for (var k = 1; k <= MaxDecimals; k++)
            {
                var m = Math.Round(magnitude * Powers[k]);
                // m < 2^53 and 10^k are exact, so the division is the correctly rounded value of the decimal m·10^−k: its parse.
                if (m / Powers[k] == magnitude)
                {
                    (decimals, scaled) = (k, (long)m);
                    break;
                }
            }
        }
        // A trailing zero would mean a shorter form was missed: leave such a value to the caller rather than trust the argument.
        if (decimals < 0 || (decimals > 0 && scaled % 10 == 0))
            return false;
        if (value < 0)
            destination[written++] = (byte)'-';
        var unit = (long)Powers[decimals];
        written += WriteInteger(scaled / unit, destination[written..]);
        if (decimals > 0)
        {
            destination[written++] = (byte)'.';
            var fraction = scaled % unit;
            for (var i = decimals - 1; i >= 0; i--)
            {
                destination[written + i] = (byte)('0' + fraction % 10);
                fraction /= 10;
            }
            written += decimals;
        }
        return true;
    }

    private static int WriteInteger(long value, Span<byte> destination)
    {
        var length = 1;
        for (var rest = value / 10; rest > 0; rest /= 10)
            length++;
        for (var i = length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
        return length;
    }
}
