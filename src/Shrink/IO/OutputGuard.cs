using Shrink.Onnx;
using Shrink.Text;

namespace Shrink.IO;

/// <summary>
/// What a command must not overwrite: its inputs (the model, a teacher, calibration data, layer files)
/// and every file an input model refers to (its external data). Outputs are compared with them by
/// file identity (device and inode, after resolving symbolic links), not by path text, so an alias,
/// a hard link or <c>/proc/self/cwd/…</c> is caught too.
/// </summary>
public sealed class OutputGuard
{
    private readonly List<(string Path, FileIdentity Id)> _protected = new();

    /// <summary>A guard protecting nothing yet.</summary>
    public OutputGuard() { }

    /// <summary>A guard protecting <paramref name="files"/> (those that exist); ONNX models among them protect their external data too.</summary>
    public static OutputGuard Protecting(params string?[] files)
    {
        var guard = new OutputGuard();
        foreach (var f in files) guard.Protect(f);
        return guard;
    }

    /// <summary>Protects a file (ignored when null or missing); an ONNX model's external data files are protected with it.</summary>
    public OutputGuard Protect(string? path)
    {
        if (!Add(path) || !path!.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return this;
        foreach (var data in ExternalDataFiles.Referenced(path)) Add(data);  // data files are not read as models: no recursion
        return this;
    }

    private bool Add(string? path)
    {
        if (string.IsNullOrEmpty(path)) return false;
        var id = FileIdentity.Of(path);
        if (id.Kind == FileKind.Missing || _protected.Any(p => p.Id.SameFileAs(id))) return false;
        _protected.Add((path, id));
        return id.Kind == FileKind.Regular;
    }

    /// <summary>True when <paramref name="path"/> is one of the protected files (by identity).</summary>
    public bool Protects(string path)
    {
        var id = FileIdentity.Of(path);
        return _protected.Any(p => p.Id.SameFileAs(id));
    }

    /// <summary>
    /// What messages call an output when the caller names it no other way: the options property "Output", which the
    /// CLI prints as the flag that gives the command's output.
    /// </summary>
    public static OptionName Output { get; } = OptionName.Of("Output", "output");

    /// <summary>
    /// Refuses (with one line naming <paramref name="option"/>, or <see cref="Output"/> when null) an output that is empty,
    /// a symbolic link, something other than a regular file, in a directory that does not exist, too long a name for its
    /// temporary sibling, or any protected file. Returns the full path.
    /// </summary>
    public string Check(string output, string? option = null, int reserve = StagedFile.TempSuffixBytes)
    {
        var full = CheckPlace(output, option, reserve);
        var id = FileIdentity.Of(full);
        object subject = (object?)option ?? Output;
        foreach (var (path, pid) in _protected)
            if (pid.SameFileAs(id))
                throw new OptionsException(SamePath(output, path)
                    ? OptionText.Of($"{subject} '{Message.Name(output)}' is an input; Shrink never modifies its inputs, so choose another output path")
                    : OptionText.Of($"{subject} '{Message.Name(output)}' is the same file as the input '{Message.Name(path)}' (reached by another path); Shrink never modifies its inputs, so choose another output path"));
        return full;
    }

    /// <summary>
    /// The checks that need no inputs (see <see cref="Check"/>); <paramref name="reserve"/> is how many bytes
    /// the name may grow by (its temporary sibling, and for a model its content-named data file).
    /// </summary>
    public static string CheckPlace(string output, string? option = null, int reserve = StagedFile.TempSuffixBytes)
    {
        object subject = (object?)option ?? Output;
        if (string.IsNullOrWhiteSpace(output)) throw new OptionsException(OptionText.Of($"{subject} is empty; give a file path such as model.onnx"));
        var name = Message.Name(output);
        if (output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar))
            throw new OptionsException(OptionText.Of($"{subject} '{name}' ends with a separator; give a file path, not a directory"));
        var full = Path.GetFullPath(output);
        var link = FileIdentity.Of(full, followLinks: false);
        if (link.Kind == FileKind.SymbolicLink)
            throw new OptionsException(OptionText.Of($"{subject} '{name}' is a symbolic link; Shrink replaces outputs by renaming and does not write through links, so remove the link or name its target"));
        if (link.Kind is not (FileKind.Missing or FileKind.Regular))
            throw new OptionsException(link.Kind == FileKind.Directory
                ? OptionText.Of($"{subject} '{name}' is a directory; give a file path such as {Message.Name(Path.Combine(output, "model.onnx"))}")
                : OptionText.Of($"{subject} '{name}' is {FileIdentity.Describe(link.Kind)}, not a regular file; Shrink writes a new file and renames it into place, which would replace it, so give a file path"));
        var dir = Path.GetDirectoryName(full)!;
        var dirKind = FileIdentity.Of(dir).Kind;
        if (dirKind != FileKind.Directory)
            throw new OptionsException(dirKind == FileKind.Missing
                ? OptionText.Of($"cannot write {subject} '{name}': directory '{Message.Name(dir)}' does not exist; create it first")
                : OptionText.Of($"cannot write {subject} '{name}': '{Message.Name(dir)}' is {FileIdentity.Describe(dirKind)}, not a directory"));
        var nameBytes = System.Text.Encoding.UTF8.GetByteCount(Path.GetFileName(full));
        if (nameBytes + reserve > 255)
            throw new OptionsException(OptionText.Of($"{subject} '{name}': the file name is {nameBytes} bytes, and with Shrink's temporary suffix it would pass the file system's 255-byte limit; use a name of at most {255 - reserve} bytes"));
        return full;
    }

    /// <summary>
    /// Creates and removes an empty file beside <paramref name="output"/> (named as <see cref="StagedFile"/> names its temporary), so that a
    /// place no file can be written to (a read-only or virtual file system such as /proc, a directory without permission) is refused
    /// before any work, in the words the write itself would use.
    /// </summary>
    /// <exception cref="EnvironmentFailureException">The file system refused: names the output and the cause.</exception>
    public static void CheckWritable(string output)
    {
        var full = Path.GetFullPath(output);
        var probe = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            try { File.Delete(probe); } catch (Exception again) when (EnvironmentFailureException.IsFileSystem(again)) { }
            throw EnvironmentFailureException.From($"write '{Message.Name(output)}'", e);
        }
    }

    private static bool SamePath(string a, string b) => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
