// MSBuild inline task (see Shrink.Training.targets beside it; compiled for netstandard2.0): makes TorchSharp's libLibTorchSharp.so load on
// systems whose libstdc++ stops before GLIBCXX_3.4.32 (Debian 12 has 3.4.30).
//
// The shipped library needs GLIBCXX_3.4.32 for one symbol, _ZSt21ios_base_library_initv, which it
// references but never calls and no relocation uses. The dynamic loader refuses the whole library
// when a needed version is missing, unless that version need is marked weak (VER_FLG_WEAK). This task
// checks those facts on the actual file and writes a copy with that one flag set; anything else
// that would need a newer libstdc++ fails the build with a message naming the symbols.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PatchLibTorchSharp : Task
{
    /// <summary>The package's libLibTorchSharp.so.</summary>
    [Required] public string Source { get; set; } = "";

    /// <summary>Where the patched copy goes (same file name, so it lands beside libtorch_cpu.so).</summary>
    [Required] public string Destination { get; set; } = "";

    /// <summary>Patch even where the building machine's libstdc++ has GLIBCXX_3.4.32 (the output runs elsewhere).</summary>
    public bool Always { get; set; }

    /// <summary>True when a patched copy was written (or is up to date) and should replace the original.</summary>
    [Output] public bool Patched { get; set; }

    private const string IgnorableSymbol = "_ZSt21ios_base_library_initv";
    private const string IgnorableVersion = "GLIBCXX_3.4.32";
    private const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        try
        {
            var libstdcxx = FindSystemLibStdCxx();
            if (libstdcxx == null && !Always)
            {
                Log.LogMessage(MessageImportance.Normal, "libLibTorchSharp.so: no system libstdc++.so.6 found; left unpatched");
                return true;
            }
            if (libstdcxx != null && !Always && Contains(File.ReadAllBytes(libstdcxx), IgnorableVersion))
            {
                Log.LogMessage(MessageImportance.Normal, $"libLibTorchSharp.so: {libstdcxx} has {IgnorableVersion}; no patch needed");
                return true;
            }
            if (File.Exists(Destination) && File.GetLastWriteTimeUtc(Destination) >= File.GetLastWriteTimeUtc(Source))
            {
                Patched = true;
                return true;
            }
            var bytes = File.ReadAllBytes(Source);
            var error = MarkWeak(bytes);
            if (error != null)
            {
                Log.LogError($"cannot patch {Source} for a libstdc++ without {IgnorableVersion} ({libstdcxx ?? "none found here"}): {error}");
                return false;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(Destination)!);
            var temp = Destination + ".tmp";
            File.WriteAllBytes(temp, bytes);
            if (File.Exists(Destination)) File.Delete(Destination);
            File.Move(temp, Destination);
            Patched = true;
            Log.LogMessage(MessageImportance.High, $"libLibTorchSharp.so: marked the {IgnorableVersion} need weak (only {IgnorableSymbol} uses it) -> {Destination}");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or IndexOutOfRangeException)
        {
            Log.LogError($"cannot patch {Source}: {e.Message}");
            return false;
        }
    }

    private static string? FindSystemLibStdCxx()
    {
        foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" })
        {
            var path = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(path)) return path;
        }
        return null;
    }

    private static bool Contains(byte[] haystack, string needle)
    {
        var n = Encoding.ASCII.GetBytes(needle + "\0");
        for (var i = 0; i + n.Length <= haystack.Length; i++)
        {
            if (haystack[i] != n[0]) continue;
            var j = 1;
            while (j < n.Length && haystack[i + j] == n[j]) j++;
            if (j == n.Length) return true;
        }
        return false;
    }

    /// <summary>Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 need after checking that nothing else needs a libstdc++ newer than 3.4.30; returns an error or null.</summary>
    internal static string? MarkWeak(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            return "not an ELF file";
        if (elf[4] != 2 || elf[5] != 1) return "not a 64-bit little-endian ELF file";
        var shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        var sections = new List<(uint Type, long Offset, long Size, int Link)>();
        for (var i = 0; i < shnum; i++)
        {
            var h = shoff + (long)i * shentsize;
            sections.Add((BitConverter.ToUInt32(elf, (int)h + 4), (long)BitConverter.ToUInt64(elf, (int)h + 24),
                (long)BitConverter.ToUInt64(elf, (int)h + 32), (int)BitConverter.ToUInt32(elf, (int)h + 40)));
        }
        int dynsym = sections.FindIndex(s => s.Type == 11), versym = sections.FindIndex(s => s.Type == 0x6fffffff),
            verneed = sections.FindIndex(s => s.Type == 0x6ffffffe);
        if (dynsym < 0 || versym < 0 || verneed < 0) return "no dynamic symbol version sections";

        string Str(int section, long offset)
        {
            var start = (int)(sections[section].Offset + offset);
            var end = Array.IndexOf(elf, (byte)0, start);
            return Encoding.ASCII.GetString(elf, start, end - start);
        }

        // Version needs: index -> (name, offset of vna_flags).
        var needs = new Dictionary<int, (string Name, int FlagsAt)>();
        var vn = (int)sections[verneed].Offset;
        while (true)
        {
            int cnt = BitConverter.ToUInt16(elf, vn + 2), aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
            for (var a = 0; a < cnt; a++)
            {
                var name = Str(sections[verneed].Link, BitConverter.ToUInt32(elf, aux + 8));
                needs[BitConverter.ToUInt16(elf, aux + 6) & 0x7fff] = (name, aux + 4);
                aux += (int)BitConverter.ToUInt32(elf, aux + 12);
            }
            var next = BitConverter.ToUInt32(elf, vn + 12);
            if (next == 0) break;
            vn += (int)next;
        }
        var target = needs.Where(kv => kv.Value.Name == IgnorableVersion).Select(kv => kv.Key).ToList();
        if (target.Count == 0) return null; // nothing to do: the library does not need 3.4.32

        // Symbols bound to versions this system lacks.
        var symbolCount = (int)(sections[dynsym].Size / 24);
        var tooNew = new List<string>();
        var targetSymbols = new HashSet<int>();
        for (var s = 1; s < symbolCount; s++)
        {
            var index = BitConverter.ToUInt16(elf, (int)sections[versym].Offset + 2 * s) & 0x7fff;
            if (!needs.TryGetValue(index, out var need) || !TooNew(need.Name)) continue;
            var name = Str(sections[dynsym].Link, BitConverter.ToUInt32(elf, (int)sections[dynsym].Offset + 24 * s));
            if (need.Name == IgnorableVersion && name == IgnorableSymbol) targetSymbols.Add(s);
            else tooNew.Add($"{name}@{need.Name}");
        }
        if (tooNew.Count > 0)
            return $"symbols need a newer libstdc++ than GLIBCXX_3.4.30 / CXXABI_1.3.13: {string.Join(", ", tooNew)}; install a newer libstdc++6";

        // No relocation may use the symbol: then the loader never looks it up.
        foreach (var section in sections.Where(s => s.Type == 4 && s.Link == dynsym))
            for (var r = section.Offset; r + 24 <= section.Offset + section.Size; r += 24)
                if (targetSymbols.Contains((int)(BitConverter.ToUInt64(elf, (int)r + 8) >> 32)))
                    return $"a relocation uses {IgnorableSymbol}, so it cannot be left unresolved";

        foreach (var index in target)
        {
            var at = needs[index].FlagsAt;
            var flags = (ushort)(BitConverter.ToUInt16(elf, at) | VerFlgWeak);
            elf[at] = (byte)flags;
            elf[at + 1] = (byte)(flags >> 8);
        }
        return null;
    }

    private static bool TooNew(string version)
    {
        static bool AtLeast(string v, string prefix, int[] min)
        {
            if (!v.StartsWith(prefix, StringComparison.Ordinal)) return false;
            var parts = v.Substring(prefix.Length).Split('.').Select(p => int.TryParse(p, out var x) ? x : 0).ToArray();
            for (var i = 0; i < min.Length; i++)
            {
                var p = i < parts.Length ? parts[i] : 0;
                if (p != min[i]) return p > min[i];
            }
            return true;
        }
        return AtLeast(version, "GLIBCXX_", new[] { 3, 4, 31 }) || AtLeast(version, "CXXABI_", new[] { 1, 3, 14 });
    }
}
