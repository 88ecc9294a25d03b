using Google.Protobuf;
using Shrink.IO;
using Shrink.Ir;
using Shrink.Text;

namespace Shrink.Onnx;

/// <summary>
/// Writing a model and its external data as one unit: the data goes to a file named after its
/// content (<see cref="ExternalDataFiles.DataName"/>), the model that points to it to a temporary
/// sibling of the destination, and only the commit (one rename) makes the new pair current. A failure
/// at any step leaves the old model reading its old data. Data files that no model refers to any more
/// (replaced, or left by a killed run) are removed.
/// </summary>
public static partial class OnnxWriter
{
    /// <summary>
    /// Writes <paramref name="model"/> to a temporary file beside <paramref name="path"/> (its external data,
    /// if any, already in place under its content name); the caller checks or measures
    /// <see cref="StagedFile.TempPath"/>, then commits, or disposes to leave nothing behind.
    /// </summary>
    public static StagedFile Stage(Model model, string path, OnnxWriteOptions? options = null, OutputGuard? guard = null)
    {
        options ??= new OnnxWriteOptions();
        var staged = StagedFile.Begin(path, guard);
        try
        {
            var (dir, name) = (Path.GetDirectoryName(staged.Destination)!, Path.GetFileName(staged.Destination));
            RemoveOrphanData(dir, name, guard);
            var previous = ExternalDataFiles.Referenced(staged.Destination);
            string? dataName = null;
            if (!options.ExternalData && !NeedsExternalData(model, options.Inline))
                staged.Write(s => WriteInline(model, s));
            else
            {
                var sink = new ExternalSink(options.ExternalThreshold);
                var proto = ToProto(model, sink);
                dataName = sink.Length > 0 ? sink.Finish(name) : null;
                staged.Write(s => proto.WriteTo(s));  // the temporary model first: while it exists, its data is no orphan
                if (dataName is not null)
                {
                    WriteData(sink, Path.Combine(dir, dataName), staged, guard);
                    if (options.MoveWritten) sink.MoveLoadedTo(Path.Combine(dir, dataName));
                }
            }
            staged.AfterCommit = () => RemoveUnreferenced(previous, dir, name, dataName, guard);
            return staged;
        }
        catch
        {
            staged.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/> as <c>model.onnx</c> with its tensors of 1 KiB or more in <c>model.onnx.data</c>, in
    /// <paramref name="directory"/> (a scratch directory of the caller's: nothing is staged, hashed or flushed), for ONNX
    /// Runtime to load from the file; unloaded tensors are copied in chunks. Returns the model's path.
    /// </summary>
    internal static string WriteScratch(Model model, string directory)
    {
        var sink = new ExternalSink(1024);
        var proto = ToProto(model, sink);
        if (sink.Length > 0)
        {
            using var data = new FileStream(Path.Combine(directory, sink.FinishAs("model.onnx.data")), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            sink.CopyTo(data);
        }
        var path = Path.Combine(directory, "model.onnx");
        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16)) proto.WriteTo(fs);
        return path;
    }

    /// <summary>Writes the data file under its content name, unless a file with exactly that content is there already.</summary>
    private static void WriteData(ExternalSink sink, string dataPath, StagedFile model, OutputGuard? guard)
    {
        var id = FileIdentity.Of(dataPath, followLinks: false);
        if (id.Kind == FileKind.Regular && new FileInfo(dataPath).Length == sink.Length && FileHash(dataPath) == sink.Hash()) return;
        if (guard?.Protects(dataPath) == true)
            throw new OptionsException(OptionText.Of($"the external data file '{Message.Name(dataPath)}' belongs to an input and would be replaced; choose another {OutputGuard.Output}"));
        using var data = StagedFile.Begin(dataPath, guard, "the external data file", StagedFile.TempOnlySuffixBytes);
        data.Write(sink.CopyTo);
        data.Commit();
        if (id.Kind == FileKind.Missing) model.AddCreated(dataPath);
    }

    private static string FileHash(string path)
    {
        using var sha = System.Security.Cryptography.SHA256.Create();
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(sha.ComputeHash(fs))[..16];
    }

    /// <summary>Removes this output's data files that no model beside it, nor a run writing it now, refers to (left by killed runs).</summary>
    private static void RemoveOrphanData(string dir, string name, OutputGuard? guard)
    {
        List<string> candidates;
        try
        {
            // Listed before the references are read: a run that writes its data after this listing is not
            // a candidate, and one that wrote it before has its temporary model (written first) seen below.
            candidates = Directory.EnumerateFiles(dir, $"{name}.*.data").Where(f => ExternalDataFiles.IsOwnDataName(name, Path.GetFileName(f))).ToList();
        }
        catch (IOException) { return; }
        if (candidates.Count == 0 || InUse(dir, name) is not { } keep) return;
        foreach (var file in candidates)
            if (!keep.Contains(file) && guard?.Protects(file) != true) StagedFile.TryDelete(file);
    }

    /// <summary>After a commit: removes the data files the replaced model referred to, if no model refers to them now.</summary>
    private static void RemoveUnreferenced(IReadOnlyList<string> previous, string dir, string name, string? current, OutputGuard? guard)
    {
        var own = previous.Where(p => Path.GetDirectoryName(p) == dir && Path.GetFileName(p) != current
            && ExternalDataFiles.IsOwnDataName(name, Path.GetFileName(p)) && guard?.Protects(p) != true).ToList();
        if (own.Count == 0 || InUse(dir, name) is not { } keep) return;
        foreach (var p in own.Where(p => !keep.Contains(p))) StagedFile.TryDelete(p);
    }

    /// <summary>Bytes of models read to find which data files are in use; past it nothing is removed.</summary>
    private const long ScanLimit = 256L << 20;

    /// <summary>
    /// The data files that a model beside NAME (every <c>*.onnx</c>: a renamed or copied older version may
    /// still read them), NAME itself and every live temporary model of NAME refer to; null when one
    /// cannot be read or they are too large to read (then nothing is removed).
    /// </summary>
    private static HashSet<string>? InUse(string dir, string name)
    {
        var keep = new HashSet<string>(StringComparer.Ordinal);
        long read = 0;
        IEnumerable<string> models;
        try { models = StaleFiles.Live(dir, name).Concat(Directory.EnumerateFiles(dir, "*.onnx")).Append(Path.Combine(dir, name)).Distinct().ToList(); }
        catch (IOException) { return null; }
        foreach (var model in models)
        {
            if (FileIdentity.Of(model).Kind != FileKind.Regular) continue;
            read += new FileInfo(model).Length;
            if (read > ScanLimit || ExternalDataFiles.TryReferenced(model) is not { } referenced) return null;
            keep.UnionWith(referenced);
        }
        return keep;
    }
}
