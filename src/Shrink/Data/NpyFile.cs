using Shrink.IO;

namespace Shrink.Data;

/// <summary>
/// Reads and writes numpy <c>.npy</c> files. Reads format versions 1.0, 2.0 and 3.0 with
/// little-endian, C-ordered data of the types in <see cref="NpyDType"/>; writes version 1.0
/// byte for byte as <c>numpy.save</c> does, atomically. Bad files raise <see cref="DataException"/>
/// naming the file and the problem.
/// </summary>
public static class NpyFile
{
    /// <summary>Reads the array in <paramref name="path"/>.</summary>
    public static NpyArray Read(string path)
        => Parse(DataFiles.ReadAllBytes(path, "npy file"), path);

    /// <summary>Reads an array from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static NpyArray Read(Stream stream, string name)
        => Parse(DataFiles.ReadAllBytes(stream), name);

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, NpyArray array, OutputGuard? guard = null)
    {
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, stream => Write(stream, array), guard);
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        stream.Write(NpyHeader.Format(array));
        stream.Write(array.Data);
    }

    private static NpyArray Parse(byte[] bytes, string name)
    {
        var (text, offset) = NpyHeader.Split(bytes, name);
        var (dtype, shape) = NpyHeader.Parse(text, name);
        long actual = bytes.Length - offset;
        Int128 expected = dtype.ItemSize();
        foreach (var d in shape)
            expected *= d;
        var shapeText = $"({string.Join(", ", shape)})";
        if (expected > actual)
            throw new DataException($"'{name}' is truncated: shape {shapeText} of {dtype.Descr()} needs {expected} data bytes but {actual} follow the header; write it again");
        if (expected < actual)
            throw new DataException($"'{name}' has {actual - expected} bytes after the data of shape {shapeText}; the file is corrupt, write it again");
        return new NpyArray(dtype, shape, bytes[offset..]);
    }
}
