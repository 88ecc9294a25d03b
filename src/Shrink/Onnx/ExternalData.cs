using Shrink.IO;
using Shrink.Ir;
using Shrink.Text;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// ONNX external data: tensor bytes stored in a side file named by <c>external_data</c> entries
/// (<c>location</c>, <c>offset</c>, <c>length</c>), relative to the model's directory.
/// </summary>
internal static class ExternalData
{
    /// <summary>
    /// An unloaded tensor over its range of the data file (opened once per file and model, through
    /// <paramref name="files"/>); its bytes are read when a caller asks for them.
    /// </summary>
    public static Tensor Load(TensorProto p, string? baseDirectory, string where, Dictionary<string, DataFile> files)
    {
        if (p.ExternalData.GroupBy(e => e.Key).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ModelFormatException($"{where}: tensor '{Message.Name(p.Name)}' gives external-data key '{Message.Name(twice.Key)}' {twice.Count()} times; the file is corrupt");
        var info = p.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!info.TryGetValue("location", out var location) || location.Length == 0)
            throw new ModelFormatException($"{where}: tensor '{p.Name}' is stored externally but names no location");
        if (baseDirectory is null)
            throw new ModelFormatException($"{where}: tensor '{p.Name}' is stored in external file '{location}', but the model was not read from a file; read it by path");
        var (type, dims, _, expected) = TensorCodec.Header(p, where);
        if (type == DataType.String || !type.IsKnown())
            throw new ModelFormatException($"{where}: tensor '{p.Name}' of type {(type.IsKnown() ? type.ShortName() : ((int)type).ToString())} is stored externally, which ONNX allows only for numeric types; the file is corrupt");
        var path = ResolveInside(baseDirectory, location, p.Name, where);
        var offset = ParseLong(info, "offset", 0, p.Name, where);
        if (!files.TryGetValue(path, out var file)) files[path] = file = OpenData(path, p.Name, where);
        var length = ParseLong(info, "length", file.Length - offset, p.Name, where);
        if (offset > file.Length || length > file.Length - offset)  // written so that huge values cannot overflow
            throw new ModelFormatException($"{where}: tensor '{p.Name}' asks for {length} bytes at offset {offset} of '{location}', which has {file.Length}; the data file is truncated or does not belong to this model");
        if (length != expected)
            throw new ModelFormatException($"{where}: tensor '{p.Name}' ({type.ShortName()}[{string.Join(",", dims)}]) holds {length} bytes of data, expected {expected}");
        return new Tensor(p.Name, type, dims, new DataRange(file, offset, length))
        {
            DocString = p.HasDocString ? p.DocString : null,
            ExternalInfo = p.ExternalData.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)).ToArray(),
        };
    }

    /// <summary>
    /// The data file's real path: relative to the model, inside the model's real directory once every
    /// symbolic link is resolved (the rule ONNX Runtime applies), and a regular file — a FIFO or device
    /// would hang or never end, a link out of the directory would read files the model has no business with.
    /// </summary>
    private static string ResolveInside(string baseDirectory, string location, string tensor, string where)
    {
        var shown = Message.Name(location);
        if (Path.IsPathRooted(location))
            throw new ModelFormatException($"{where}: tensor '{Message.Name(tensor)}' names external file '{shown}' by an absolute path, outside the model's directory; external data must sit beside the model, named relative to it");
        var root = FileIdentity.RealPath(baseDirectory) ?? Path.GetFullPath(baseDirectory);
        var lexical = Path.GetFullPath(Path.Combine(root, location));
        var real = FileIdentity.RealPath(lexical);
        if (!Inside(root, lexical) || (real is not null && !Inside(root, real)))
            throw new ModelFormatException($"{where}: tensor '{Message.Name(tensor)}' names external file '{shown}', which {(real is not null && Inside(root, lexical) ? "links to" : "is")} a file outside the model's directory; external data must sit beside the model");
        var kind = FileIdentity.Of(real ?? lexical).Kind;
        if (kind == FileKind.Missing)
            throw new ModelFormatException($"{where}: tensor '{Message.Name(tensor)}' is stored in '{shown}', which does not exist; keep the data file beside the model");
        if (kind != FileKind.Regular)
            throw new ModelFormatException($"{where}: tensor '{Message.Name(tensor)}' is stored in '{shown}', which is {FileIdentity.Describe(kind)}, not a regular file; external data must be a regular file beside the model");
        return real!;
    }

    private static bool Inside(string root, string path) =>
        path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static DataFile OpenData(string path, string tensor, string where)
    {
        try { return DataFile.Open(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{where}: tensor '{Message.Name(tensor)}' is stored in '{Message.Name(path)}', which cannot be read ({Message.OneLine(e.Message, 200)}); keep the data file beside the model", e);
        }
    }

    private static long ParseLong(Dictionary<string, string> info, string key, long fallback, string tensor, string where)
    {
        if (!info.TryGetValue(key, out var s)) return fallback;
        return long.TryParse(s, out var v) && v >= 0 ? v
            : throw new ModelFormatException($"{where}: tensor '{tensor}' has external-data {key} '{s}', which is not a non-negative integer");
    }
}
