using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace Shrink.Data;

/// <summary>
/// The header of a <c>.npy</c> file: magic, version, length, and a Python dict literal such as
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>.
/// </summary>
internal static partial class NpyHeader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>
    /// The longest dict Shrink reads, as numpy's <c>np.load</c> (its default <c>max_header_size</c>):
    /// the dicts of the types Shrink reads take about a hundred bytes.
    /// </summary>
    public const int MaxLength = 10_000;

    /// <summary>
    /// Reads and checks magic, version and length from a seekable <paramref name="stream"/>; returns the
    /// dict text and leaves the stream at the first data byte.
    /// </summary>
    public static string Read(Stream stream, string name)
    {
        var prefix = new byte[12];
        int read = stream.ReadAtLeast(prefix.AsSpan(0, 8), 8, throwOnEndOfStream: false);
        if (read < 8 || !prefix.AsSpan(0, 6).SequenceEqual(Magic))
            throw new DataException($"'{name}' is not an npy file (it does not start with \\x93NUMPY); pass a file written by numpy.save");
        int major = prefix[6];
        if (major is < 1 or > 3)
            throw new DataException($"'{name}' has npy format version {major}.{prefix[7]}; only versions 1.0, 2.0 and 3.0 are supported");
        int lengthSize = major == 1 ? 2 : 4;
        if (stream.ReadAtLeast(prefix.AsSpan(8, lengthSize), lengthSize, throwOnEndOfStream: false) < lengthSize)
            throw new DataException($"'{name}' is truncated inside its npy header; the file is corrupt, write it again");
        long length = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
        long left = stream.Length - stream.Position;
        if (length > left)
            throw new DataException($"'{name}' is truncated: its npy header declares {length} bytes but the file has {left} after the prefix; write it again");
        if (length > MaxLength)
            throw new DataException($"'{name}' has an npy header of {length} bytes, more than the {MaxLength} numpy and Shrink read; the file is corrupt, write it again with numpy.save");
        var header = new byte[length];
        stream.ReadExactly(header);
        return (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(header);
    }

    /// <summary>
    /// The data bytes a header declares: item size times every dimension, exactly (no product of
    /// dimensions from a file can wrap around).
    /// </summary>
    public static BigInteger DataBytes(NpyDType dtype, long[] shape)
    {
        BigInteger bytes = dtype.ItemSize();
        foreach (var d in shape)
            bytes *= d;
        return bytes;
    }

    /// <summary>Reads the element type and shape from the dict text.</summary>
    public static (NpyDType DType, long[] Shape) Parse(string text, string name)
    {
        var descr = Field(DescrRegex(), text, "descr", name);
        if (Field(FortranRegex(), text, "fortran_order", name) == "True")
            throw new DataException($"'{name}' is stored in Fortran order; save a C-ordered array instead, e.g. np.save(path, np.ascontiguousarray(a))");
        return (ParseDType(descr, name), ParseShape(Field(ShapeRegex(), text, "shape", name), name));
    }

    /// <summary>The full header (prefix, dict, padding) numpy would write for <paramref name="array"/>.</summary>
    public static byte[] Format(NpyArray array)
    {
        var shape = array.Shape.Length == 1 ? $"({array.Shape[0]},)" : $"({string.Join(", ", array.Shape)})";
        var dict = $"{{'descr': '{array.Descr}', 'fortran_order': False, 'shape': {shape}, }}";
        if (array.Shape.Length > 0)
            dict += new string(' ', Math.Max(0, 21 - array.Shape[0].ToString(CultureInfo.InvariantCulture).Length));
        int lengthSize = dict.Length + 1 + 64 <= ushort.MaxValue ? 2 : 4;
        int padding = 64 - (8 + lengthSize + dict.Length + 1) % 64;
        var header = Encoding.Latin1.GetBytes(dict + new string(' ', padding) + "\n");
        var prefix = new byte[8 + lengthSize];
        Magic.CopyTo(prefix, 0);
        prefix[6] = (byte)(lengthSize == 2 ? 1 : 2);
        if (lengthSize == 2)
            BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(8), (ushort)header.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), (uint)header.Length);
        return [.. prefix, .. header];
    }

    private static string Field(Regex regex, string text, string key, string name)
    {
        var match = regex.Match(text);
        if (!match.Success)
            throw new DataException($"'{name}' has a malformed npy header (no readable '{key}' in {text.Trim()}); the file is corrupt, write it again");
        return match.Groups["v"].Value;
    }

    private static NpyDType ParseDType(string descr, string name)
    {
        if (NpyDTypes.TryParse(descr, out var dtype))
            return dtype;
        if (descr.StartsWith('>'))
            throw new DataException($"'{name}' holds big-endian data ('{descr}'); save it little-endian, e.g. np.save(path, a.astype(a.dtype.newbyteorder('<')))");
        if (descr.EndsWith('O'))
            throw new DataException($"'{name}' holds an object array ('{descr}'), which needs pickle; save a numeric array instead");
        throw new DataException($"'{name}' has dtype '{descr}', which is not supported; save one of {NpyDTypes.Supported}");
    }

    private static long[] ParseShape(string text, string name)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var shape = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
                throw new DataException($"'{name}' has a malformed npy shape ({text}); the file is corrupt, write it again");
        }
        return shape;
    }

    [GeneratedRegex("""['"]descr['"]\s*:\s*(?:'(?<v>[^']*)'|"(?<v>[^"]*)"|(?<v>\[))""")]
    private static partial Regex DescrRegex();

    [GeneratedRegex("""['"]fortran_order['"]\s*:\s*(?<v>True|False)""")]
    private static partial Regex FortranRegex();

    [GeneratedRegex("""['"]shape['"]\s*:\s*\((?<v>[^)]*)\)""")]
    private static partial Regex ShapeRegex();
}
