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
    {
        using var stream = DataFiles.Open(path, "npy file");
        return Read(stream, path);
    }

    /// <summary>
    /// Reads an array from <paramref name="stream"/>; <paramref name="name"/> names it in errors.
    /// The header is checked against the bytes that follow it before the data is allocated.
    /// </summary>
    public static NpyArray Read(Stream stream, string name)
    {
        if (!stream.CanSeek)
            stream = new MemoryStream(DataFiles.ReadAllBytes(stream), writable: false);
        var (dtype, shape) = NpyHeader.Parse(NpyHeader.Read(stream, name), name);
        var data = new byte[CheckDataBytes(dtype, shape, stream.Length - stream.Position, name)];
        stream.ReadExactly(data);
        return new NpyArray(dtype, shape, data);
    }

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

    /// <summary>The data length the header declares, when it is what follows the header and fits one array.</summary>
    private static int CheckDataBytes(NpyDType dtype, long[] shape, long actual, string name)
    {
        var expected = NpyHeader.DataBytes(dtype, shape);
        var shapeText = $"({string.Join(", ", shape)})";
        if (expected > actual)
            throw new DataException($"'{name}' is truncated: shape {shapeText} of {dtype.Descr()} needs {expected} data bytes but {actual} follow the header; write it again");
        if (expected < actual)
            throw new DataException($"'{name}' has {actual - expected} bytes after the data of shape {shapeText}; the file is corrupt, write it again");
        if (expected > Array.MaxLength)
            throw new DataException($"'{name}' holds {expected} data bytes, more than the {Array.MaxLength} Shrink reads from one npy file; split the array into smaller files");
        return (int)expected;
    }
}
