// Compiled by MSBuild's RoslynCodeTaskFactory against netstandard: no spans, no BinaryPrimitives, plain C#.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Marks one GNU version requirement (a Vernaux entry of .gnu.version_r) of an ELF64 little-endian shared library weak,
/// so the dynamic loader accepts a libstdc++ that lacks that version. Does nothing when the system's libstdc++ has it.
/// </summary>
public sealed class MarkGlibcxxVersionWeak : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 2;

    private static readonly string[] LibstdcxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required]
    public string Library { get; set; }

    [Required]
    public string Version { get; set; }

    [Output]
    public string Status { get; set; }

    public override bool Execute()
    {
        if (!BitConverter.IsLittleEndian)
        {
            Log.LogError("The TorchSharp load fix reads ELF little-endian fields and needs a little-endian build machine.");
            return false;
        }

        var system = Array.Find(LibstdcxxCandidates, File.Exists);
        if (system == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++.so.6 found; {0} left as it is.", Library);
            return true;
        }

        if (IndexOf(File.ReadAllBytes(system), Encoding.ASCII.GetBytes(Version + "\0")) >= 0)
        {
            Log.LogMessage(MessageImportance.Low, "{0} provides {1}; {2} needs no load fix.", system, Version, Library);
            return true;
        }

        var bytes = File.ReadAllBytes(Library);
        var entry = FindVernaux(bytes, Version);
        if (entry < 0)
        {
            Log.LogError("{0} has no {1} version requirement to mark weak: is this the TorchSharp build the fix was written for?", Library, Version);
            return false;
        }

        var flags = BitConverter.ToUInt16(bytes, entry + 4);
        if ((flags & VerFlgWeak) != 0)
        {
            Log.LogMessage(MessageImportance.Low, "{0}: {1} is already weak.", Library, Version);
            return true;
        }

        var patched = BitConverter.GetBytes((ushort)(flags | VerFlgWeak));
        bytes[entry + 4] = patched[0];
        bytes[entry + 5] = patched[1];

        // Write beside and rename over, so a hard link into the NuGet cache is replaced rather than written through; keep
        // the copy's timestamp so the next incremental build's copy step sees it unchanged and does not undo the patch.
        var stamp = File.GetLastWriteTimeUtc(Library);
        var temporary = Library + ".patching";
        File.WriteAllBytes(temporary, bytes);
        File.SetLastWriteTimeUtc(temporary, stamp);
        File.Delete(Library);
        File.Move(temporary, Library);
        Status = system + " lacks " + Version + ": marked that requirement of " + Path.GetFileName(Library) +
            " weak so TorchSharp loads (build/TorchSharpLoadFix.targets)";
        return true;
    }

    /// <summary>File offset of the Vernaux entry named <paramref name="version"/>, or -1.</summary>
    private static int FindVernaux(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("Not an ELF64 little-endian file.");
        }

        var sectionHeaders = checked((int)BitConverter.ToUInt64(elf, 0x28));
        int headerSize = BitConverter.ToUInt16(elf, 0x3A);
        int sectionCount = BitConverter.ToUInt16(elf, 0x3C);
        for (var s = 0; s < sectionCount; s++)
        {
            var header = sectionHeaders + (s * headerSize);
            if (BitConverter.ToUInt32(elf, header + 4) != ShtGnuVerneed)
            {
                continue;
            }

            var need = checked((int)BitConverter.ToUInt64(elf, header + 0x18));
            var link = (int)BitConverter.ToUInt32(elf, header + 0x28);
            var needCount = (int)BitConverter.ToUInt32(elf, header + 0x2C);
            var strings = checked((int)BitConverter.ToUInt64(elf, sectionHeaders + (link * headerSize) + 0x18));
            for (var n = 0; n < needCount; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, need + 2);
                var aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (var a = 0; a < auxCount; a++)
                {
                    var name = strings + (int)BitConverter.ToUInt32(elf, aux + 8);
                    var end = Array.IndexOf(elf, (byte)0, name);
                    if (Encoding.ASCII.GetString(elf, name, end - name) == version)
                    {
                        return aux;
                    }

                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }

                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }

        return -1;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i <= haystack.Length - needle.Length; i++)
        {
            var j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
            {
                j++;
            }

            if (j == needle.Length)
            {
                return i;
            }
        }

        return -1;
    }
}
