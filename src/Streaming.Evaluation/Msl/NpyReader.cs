using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Streaming.Evaluation.Msl;

/// <summary>A 2-D float64 matrix in row-major (C) order: element (r, c) is <c>Data[r * Columns + c]</c>.</summary>
internal sealed class NpyMatrix
{
    public NpyMatrix(int rows, int columns, double[] data)
    {
        if (rows < 0 || columns < 0 || (long)rows * columns != data.Length)
            throw new ArgumentException($"A {rows} × {columns} matrix needs {(long)rows * columns} values, got {data.Length}.");
        Rows = rows;
        Columns = columns;
        Data = data;
    }

    public int Rows { get; }

    public int Columns { get; }

    public double[] Data { get; }

    public double this[int row, int column] => Data[row * Columns + column];

    public ReadOnlySpan<double> Row(int row) => Data.AsSpan(row * Columns, Columns);
}

/// <summary>
/// Reads NumPy <c>.npy</c> files of format version 1.0 or 2.0 holding a 2-D little-endian float64 array in C order — what
/// the telemanom MSL/SMAP files are. The header is the Python dict literal NumPy writes
/// (<c>{'descr': '&lt;f8', 'fortran_order': False, 'shape': (2264, 55), }</c>); anything else (another magic, version,
/// dtype, byte order, Fortran order, rank, or a data length that disagrees with the shape) is an
/// <see cref="InvalidDataException"/> that names the file and what is wrong, never a silently misread matrix.
/// See numpy.lib.format for the format.
/// </summary>
internal static class NpyReader
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyMatrix Read(string path) => Read(File.ReadAllBytes(path), path);

    /// <summary>Parses the bytes of a whole .npy file; <paramref name="source"/> names it in error messages.</summary>
    public static NpyMatrix Read(ReadOnlySpan<byte> file, string source)
    {
        if (file.Length < Magic.Length + 2 || !file[..Magic.Length].SequenceEqual(Magic))
            throw Invalid(source, "not a NumPy .npy file: it does not start with the magic bytes \\x93NUMPY");
        var (major, minor) = (file[6], file[7]);
        int headerLength, headerStart;
        switch (major)
        {
            case 1 when file.Length >= 10:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
                headerStart = 10;
                break;
            case 2 when file.Length >= 12:
                var length = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
                if (length > int.MaxValue)
                    throw Invalid(source, $"header length {length} is too large");
                headerLength = (int)length;
                headerStart = 12;
                break;
            case 1 or 2:
                throw Invalid(source, "the file ends inside the header length field");
            default:
                throw Invalid(source, $"format version {major}.{minor} is not supported (only 1.0 and 2.0, which hold latin-1 headers)");
        }
        if (minor != 0)
            throw Invalid(source, $"format version {major}.{minor} is not supported (only 1.0 and 2.0)");
        if (file.Length - headerStart < headerLength)
            throw Invalid(source, $"the header is {headerLength} bytes long but the file ends after {file.Length - headerStart}");
        var header = Encoding.Latin1.GetString(file.Slice(headerStart, headerLength));
        var (rows, columns) = ParseHeader(header, source);
        var dataStart = headerStart + headerLength;
        var expected = (long)rows * columns * sizeof(double);
        if (file.Length - dataStart != expected)
            throw Invalid(source, $"shape ({rows}, {columns}) needs {expected} data bytes but the file holds {file.Length - dataStart}");
        if ((long)rows * columns > Array.MaxLength)
            throw Invalid(source, $"shape ({rows}, {columns}) is too large to load");
        var data = new double[rows * columns];
        var bytes = file[dataStart..];
        for (var i = 0; i < data.Length; i++)
            data[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * sizeof(double))..]);
        return new NpyMatrix(rows, columns, data);
    }

    /// <summary>Checks the header dict's three keys and returns the shape.</summary>
    private static (int Rows, int Columns) ParseHeader(string header, string source)
    {
        var parser = new DictParser(header, source);
        var entries = parser.ParseDict();
        if (!entries.TryGetValue("descr", out var descr) || descr is not string dtype)
            throw Invalid(source, $"the header has no 'descr' string: {header.Trim()}");
        if (!entries.TryGetValue("fortran_order", out var fortran) || fortran is not bool isFortran)
            throw Invalid(source, $"the header has no 'fortran_order' True/False: {header.Trim()}");
        if (!entries.TryGetValue("shape", out var shapeValue) || shapeValue is not long[] shape)
            throw Invalid(source, $"the header has no 'shape' tuple: {header.Trim()}");
        if (dtype is ">f8")
            throw Invalid(source, "the data is big-endian float64 ('>f8'); only little-endian float64 ('<f8') is supported");
        if (dtype is not "<f8")
            throw Invalid(source, $"the dtype is '{dtype}'; only little-endian float64 ('<f8') is supported");
        if (isFortran)
            throw Invalid(source, "the array is in Fortran (column-major) order; only C (row-major) order is supported");
        if (shape.Length != 2)
            throw Invalid(source, $"the array has {shape.Length} dimension(s) ({string.Join(", ", shape)}); a (rows, columns) matrix is expected");
        if (shape[0] > int.MaxValue || shape[1] > int.MaxValue)
            throw Invalid(source, $"shape ({shape[0]}, {shape[1]}) is too large to load");
        return ((int)shape[0], (int)shape[1]);
    }

    private static InvalidDataException Invalid(string source, string message) => new($"{source}: {message}.");

    /// <summary>
    /// The subset of Python literal syntax NumPy headers use: a dict of quoted string keys to quoted strings,
    /// True/False, or tuples of non-negative integers.
    /// </summary>
    private sealed class DictParser(string text, string source)
    {
        private int _position;

        public Dictionary<string, object> ParseDict()
        {
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (TryConsume('}'))
                    break;
                var key = ParseString();
                Expect(':');
                if (!result.TryAdd(key, ParseValue()))
                    throw Fail($"the key '{key}' appears twice");
                SkipSpace();
                if (TryConsume('}'))
                    break;
                Expect(',');
            }
            SkipSpace();
            if (_position != text.Length)
                throw Fail("unexpected text after the closing brace");
            return result;
        }

        private object ParseValue()
        {
            SkipSpace();
            if (_position >= text.Length)
                throw Fail("the header ends where a value was expected");
            switch (text[_position])
            {
                case '\'' or '"':
                    return ParseString();
                case '(':
                    return ParseTuple();
                default:
                    var start = _position;
                    while (_position < text.Length && char.IsAsciiLetter(text[_position]))
                        _position++;
                    return text[start.._position] switch
                    {
                        "True" => true,
                        "False" => false,
                        var word => throw Fail($"unexpected value '{(word.Length > 0 ? word : text[start].ToString())}'"),
                    };
            }
        }

        private long[] ParseTuple()
        {
            Expect('(');
            var values = new List<long>();
            while (true)
            {
                SkipSpace();
                if (TryConsume(')'))
                    return [.. values];
                var start = _position;
                while (_position < text.Length && char.IsAsciiDigit(text[_position]))
                    _position++;
                if (start == _position || !long.TryParse(text.AsSpan(start, _position - start), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                    throw Fail("the shape must be a tuple of non-negative integers");
                values.Add(value);
                SkipSpace();
                if (TryConsume(')'))
                    return [.. values];
                Expect(',');
            }
        }

        private string ParseString()
        {
            SkipSpace();
            if (_position >= text.Length || text[_position] is not ('\'' or '"'))
                throw Fail("a quoted key or string was expected");
            var quote = text[_position++];
            var end = text.IndexOf(quote, _position);
            if (end < 0)
                throw Fail("a string is not closed");
            var value = text[_position..end];
            _position = end + 1;
            return value;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (!TryConsume(c))
                throw Fail($"'{c}' expected at offset {_position}");
        }

        private bool TryConsume(char c)
        {
            if (_position < text.Length && text[_position] == c)
            {
                _position++;
                return true;
            }
            return false;
        }

        private void SkipSpace()
        {
            while (_position < text.Length && char.IsWhiteSpace(text[_position]))
                _position++;
        }

        private InvalidDataException Fail(string message) => Invalid(source, $"cannot parse the header ({message}): {text.Trim()}");
    }
}
