using System.Buffers.Binary;
using System.Text;
using Streaming.Evaluation.Msl;

namespace Streaming.UnitTests;

public sealed class NpyReaderTests
{
    /// <summary>A .npy file as NumPy writes it: magic, version, header length, the dict padded to 64 bytes with spaces and a newline, data.</summary>
    private static byte[] Npy(string header, ReadOnlySpan<double> values, byte major = 1, bool bigEndian = false)
    {
        var prefix = major == 1 ? 10 : 12;
        var padded = header + " ";
        while ((prefix + padded.Length + 1) % 64 != 0)
            padded += " ";
        padded += "\n";
        var bytes = new List<byte>([0x93, .. "NUMPY"u8, major, 0]);
        var length = new byte[major == 1 ? 2 : 4];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)padded.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)padded.Length);
        bytes.AddRange(length);
        bytes.AddRange(Encoding.Latin1.GetBytes(padded));
        var value = new byte[8];
        foreach (var v in values)
        {
            if (bigEndian)
                BinaryPrimitives.WriteDoubleBigEndian(value, v);
            else
                BinaryPrimitives.WriteDoubleLittleEndian(value, v);
            bytes.AddRange(value);
        }
        return [.. bytes];
    }

    private static readonly double[] Six = [0.5, -1, 2, 3.25, 1e300, -0.0];

    private static string Error(byte[] file) => Assert.Throws<InvalidDataException>(() => NpyReader.Read(file, "x.npy"))!.Message;

    [Test]
    public void A_version_1_file_reads_as_a_row_major_matrix()
    {
        var m = NpyReader.Read(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", Six), "x.npy");

        Assert.That((m.Rows, m.Columns), Is.EqualTo((2, 3)));
        Assert.That(m[0, 2], Is.EqualTo(2.0));
        Assert.That(m[1, 0], Is.EqualTo(3.25));
        Assert.That(m.Row(1).ToArray(), Is.EqualTo(new[] { 3.25, 1e300, -0.0 }));
    }

    [Test]
    public void A_version_2_file_with_double_quotes_and_keys_in_another_order_reads_the_same()
    {
        var m = NpyReader.Read(Npy("{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f8\"}", Six, major: 2), "x.npy");

        Assert.That((m.Rows, m.Columns), Is.EqualTo((3, 2)));
        Assert.That(m.Data, Is.EqualTo(Six));
    }

    [Test]
    public void An_empty_matrix_reads_with_no_rows()
    {
        var m = NpyReader.Read(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 55), }", []), "x.npy");

        Assert.That((m.Rows, m.Columns, m.Data.Length), Is.EqualTo((0, 55, 0)));
    }

    [Test]
    public void Wrong_magic_bytes_are_rejected_as_not_a_npy_file()
    {
        var file = Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", Six);
        file[1] = (byte)'X';

        Assert.That(Error(file), Does.Contain("x.npy").And.Contain("magic"));
        Assert.That(Error("PK\u0003\u0004"u8.ToArray()), Does.Contain("magic"));
    }

    [Test]
    public void Format_version_3_is_rejected_by_name()
    {
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", Six, major: 3)), Does.Contain("version 3.0"));
    }

    [Test]
    public void Big_endian_float64_is_rejected_as_big_endian()
    {
        Assert.That(Error(Npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", Six, bigEndian: true)), Does.Contain("big-endian"));
    }

    [Test]
    public void Fortran_order_is_rejected_as_column_major()
    {
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", Six)), Does.Contain("Fortran"));
    }

    [TestCase("<f4")]
    [TestCase("<i8")]
    [TestCase("|b1")]
    [TestCase("<c16")]
    public void Another_dtype_is_rejected_naming_it(string dtype)
    {
        Assert.That(Error(Npy($"{{'descr': '{dtype}', 'fortran_order': False, 'shape': (2, 3), }}", Six)), Does.Contain($"'{dtype}'").And.Contain("only little-endian float64"));
    }

    [Test]
    public void A_one_dimensional_array_is_rejected_as_not_a_matrix()
    {
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", Six)), Does.Contain("1 dimension"));
    }

    [Test]
    public void Data_shorter_or_longer_than_the_shape_is_rejected_with_both_lengths()
    {
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", Six)), Does.Contain("needs 64 data bytes but the file holds 48"));
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }", Six)), Does.Contain("needs 24 data bytes but the file holds 48"));
    }

    [Test]
    public void A_header_that_is_not_a_dict_literal_or_lacks_a_key_is_rejected()
    {
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False}", Six)), Does.Contain("no 'shape'"));
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3)}", Six)), Does.Contain("cannot parse the header"));
        Assert.That(Error(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3)}", Six)), Does.Contain("non-negative integers"));
    }

    [Test]
    public void A_file_that_ends_inside_its_header_is_rejected()
    {
        var file = Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", Six);

        Assert.That(Error(file[..40]), Does.Contain("the header is"));
    }

    [Test]
    public void A_real_MSL_test_file_reads_with_the_values_NumPy_reads()
    {
        // Reference values from NumPy 1.x: np.load('test/C-1.npy').
        var m = NpyReader.Read(Path.Combine(Datasets.Msl, "test", "C-1.npy"));

        Assert.That((m.Rows, m.Columns), Is.EqualTo((2264, 55)));
        Assert.That(m[0, 0], Is.EqualTo(-0.9469578783151326));
        Assert.That(m[2263, 0], Is.EqualTo(-0.9048361934477379));
        Assert.That(Enumerable.Range(0, m.Rows).Sum(r => m[r, 0]), Is.EqualTo(-1350.4617784711388).Within(1e-9));
        Assert.That(Enumerable.Range(0, m.Rows).Sum(r => m.Row(r)[1..].ToArray().Sum()), Is.EqualTo(575.0), "the one-hot command columns");
    }
}
