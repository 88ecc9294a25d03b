using System.Security.Cryptography;
using System.Text.Json;
using Shrink.Passes.Deployment;
using Shrink.Text;

namespace Shrink.Runtime.Split;

/// <summary>
/// <c>manifest.json</c> of a split model (<see cref="SplitWriter"/>): the parts in the order they run, each with
/// its file, SHA-256, nodes, weights, estimated peak activation memory, inputs and outputs; the tensors passed
/// between parts (name, element type, shape, bytes at the plan's batch, which part makes and which read them; a
/// graph input passed through to later parts has <c>fromPart</c> −1); and the whole model's inputs and outputs.
/// Part indices in the JSON count from 0.
/// </summary>
public sealed record SplitManifest
{
    public const string FileName = "manifest.json";

    public string Format { get; init; } = "shrink-split";
    public int Version { get; init; } = 1;

    /// <summary>The model that was split: its file name and SHA-256.</summary>
    public string Source { get; init; } = "";
    public string SourceSha256 { get; init; } = "";

    public int Batch { get; init; } = 1;
    public long? Bound { get; init; }
    public string BoundKind { get; init; } = "parts";
    public long CrossingBytes { get; init; }

    public IReadOnlyList<ManifestTensor> Inputs { get; init; } = Array.Empty<ManifestTensor>();

    /// <summary>The whole model's outputs in order, each with the part that computes it (−1: a graph input returned as is).</summary>
    public IReadOnlyList<ManifestTensor> Outputs { get; init; } = Array.Empty<ManifestTensor>();

    public IReadOnlyList<ManifestPart> Parts { get; init; } = Array.Empty<ManifestPart>();

    public IReadOnlyList<BoundaryTensor> Tensors { get; init; } = Array.Empty<BoundaryTensor>();

    /// <summary>
    /// Reads a manifest and checks it: its format and version, each part a plain file beside it whose SHA-256 is the
    /// one recorded. Anything else is one <see cref="ModelFormatException"/> line naming the manifest and what is wrong.
    /// </summary>
    public static SplitManifest Read(string path)
    {
        var manifest = Parse(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var part in manifest.Parts) Verify(path, dir, part);
        return manifest;
    }

    /// <summary>The full path of part <paramref name="part"/>, beside the manifest at <paramref name="manifestPath"/>.</summary>
    public static string PartPath(string manifestPath, ManifestPart part) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, part.File);

    /// <summary>The lowercase hex SHA-256 of a file's bytes.</summary>
    public static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public string ToJson() => JsonSerializer.Serialize(this, Techniques.Artifacts.Json);

    private static SplitManifest Parse(string path)
    {
        if (IO.FileIdentity.NotRegular(path, "manifest") is { } problem) throw new ModelFormatException(problem);
        if (!File.Exists(path)) throw new ModelFormatException($"manifest '{Message.Name(path)}' does not exist; check the path");
        SplitManifest? m;
        try { m = JsonSerializer.Deserialize<SplitManifest>(File.ReadAllText(path), Techniques.Artifacts.Json); }
        catch (JsonException e) { throw new ModelFormatException($"'{Message.Name(path)}' is not a split manifest: {e.Message}", e); }
        if (m is null || m.Format != "shrink-split")
            throw new ModelFormatException($"'{Message.Name(path)}' is not a split manifest (format '{Message.Name(m?.Format ?? "")}', not 'shrink-split')");
        if (m.Version != 1)
            throw new ModelFormatException($"'{Message.Name(path)}' is a split manifest of version {m.Version}; this Shrink reads version 1");
        if (m.Parts.Count == 0) throw new ModelFormatException($"'{Message.Name(path)}' lists no parts");
        return m;
    }

    private static void Verify(string path, string dir, ManifestPart part)
    {
        var where = $"'{Message.Name(path)}': part {part.Index + 1} '{Message.Name(part.File)}'";
        if (part.File.Length == 0 || Path.GetFileName(part.File) != part.File || part.File is "." or "..")
            throw new ModelFormatException($"{where} is not a file name beside the manifest");
        var file = Path.Combine(dir, part.File);
        if (IO.FileIdentity.NotRegular(file, "part file") is { } problem) throw new ModelFormatException($"{where}: {problem}");
        if (!File.Exists(file)) throw new ModelFormatException($"{where} does not exist beside the manifest");
        var actual = Sha256(file);
        if (!string.Equals(actual, part.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new ModelFormatException($"{where} has SHA-256 {actual[..16]}…, but the manifest records {Message.Name(part.Sha256[..Math.Min(16, part.Sha256.Length)])}…; the part was changed or replaced after the split");
    }
}

/// <summary>A graph input or output of the whole model: name, element type, shape, and (outputs) the part that computes it.</summary>
public sealed record ManifestTensor(string Name, string ElementType, IReadOnlyList<string> Shape, int Part = -1);

/// <summary>One part of a split model: its file (beside the manifest), SHA-256 and size, the nodes it holds, its bytes and its inputs and outputs.</summary>
public sealed record ManifestPart
{
    public int Index { get; init; }
    public string File { get; init; } = "";
    public string Sha256 { get; init; } = "";
    public long FileBytes { get; init; }
    public int Nodes { get; init; }
    public string FirstNode { get; init; } = "";
    public string LastNode { get; init; } = "";
    public long WeightBytes { get; init; }
    public long PeakActivationBytes { get; init; }
    public IReadOnlyList<string> Inputs { get; init; } = Array.Empty<string>();
    public IReadOnlyList<string> Outputs { get; init; } = Array.Empty<string>();
}
