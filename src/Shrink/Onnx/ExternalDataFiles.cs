using System.Text.RegularExpressions;
using Google.Protobuf;
using Shrink.IO;

namespace Shrink.Onnx;

/// <summary>
/// The external data files of a model on disk: which files it refers to, and the names Shrink gives
/// the ones it writes (<c>MODEL.onnx.&lt;16 hex digits of SHA-256&gt;.data</c>, derived from the content,
/// so a new model never overwrites the data an older model, or an input, still reads).
/// </summary>
public static class ExternalDataFiles
{
    /// <summary>The full paths of the external data files the model file at <paramref name="modelPath"/> names (empty when it cannot be parsed).</summary>
    public static IReadOnlyList<string> Referenced(string modelPath) => TryReferenced(modelPath) ?? (IReadOnlyList<string>)Array.Empty<string>();

    /// <summary>As <see cref="Referenced"/>, or null when the file is not a readable ONNX model.</summary>
    public static IReadOnlyList<string>? TryReferenced(string modelPath)
    {
        if (Locations(modelPath) is not { } locations) return null;
        var dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        return locations.Where(l => !Path.IsPathRooted(l)).Select(l => Path.GetFullPath(Path.Combine(dir, l))).Distinct().ToList();
    }

    /// <summary>
    /// The distinct <c>location</c> entries of every externally stored tensor, or null when the file is not a readable
    /// ONNX model. Only the outline of the model is parsed (<c>onnx_outline.proto</c>: wiring, shapes, <c>external_data</c>), from
    /// the file as a stream: an inline model's weights are skipped, not read into memory.
    /// </summary>
    public static IReadOnlyList<string>? Locations(string modelPath)
    {
        try
        {
            if (FileIdentity.Of(modelPath).Kind != FileKind.Regular) return null;
            using var fs = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var proto = Outline.Model.Parser.WithDiscardUnknownFields(true).ParseFrom(fs);
            var found = new HashSet<string>(StringComparer.Ordinal);
            if (proto.Graph is { } g) Collect(g, found);
            return found.ToList();
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The content-derived name of the data file of model <paramref name="modelFileName"/>.</summary>
    public static string DataName(string modelFileName, string hex16) => $"{modelFileName}.{hex16}.data";

    /// <summary>True for data files Shrink writes for <paramref name="modelFileName"/> (and the <c>MODEL.data</c> of earlier versions).</summary>
    public static bool IsOwnDataName(string modelFileName, string fileName) =>
        fileName == modelFileName + ".data" || Regex.IsMatch(fileName, $"^{Regex.Escape(modelFileName)}\\.[0-9a-f]{{16}}\\.data$");

    private static void Collect(Outline.Graph g, HashSet<string> found)
    {
        foreach (var t in g.Initializer) Add(t, found);
        foreach (var n in g.Node)
            foreach (var a in n.Attribute)
            {
                Add(a.T, found);
                foreach (var t in a.Tensors) Add(t, found);
                if (a.G is { } sub) Collect(sub, found);
                foreach (var sub2 in a.Graphs) Collect(sub2, found);
            }
    }

    private static void Add(Outline.Tensor? t, HashSet<string> found)
    {
        if (t is null) return;
        foreach (var e in t.ExternalData)
            if (e.Key == "location" && e.Value.Length > 0) found.Add(e.Value);
    }
}
