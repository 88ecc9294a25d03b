using System.Security.Cryptography;
using System.Text.Json;
using Shrink.IO;

namespace Shrink.Search;

/// <summary>
/// Trial artifacts (models, checkpoints, reports) in a content-addressed directory every machine reaches
/// (<c>--artifacts DIR</c>, a shared path): a file is kept as <c>DIR/sha256/AB/ABCDEF….EXT</c> under its SHA-256, written
/// atomically and never changed, and named in the store as <c>sha256:HEX</c> — never the bytes themselves. A reader
/// checks the hash before it uses a file (<see cref="Open"/>), so a damaged or half-copied file is refused, not used.
/// </summary>
public sealed class ArtifactStore
{
    public ArtifactStore(string directory) => Directory = Path.GetFullPath(directory ?? throw new ArgumentNullException(nameof(directory)));

    public string Directory { get; }

    /// <summary>Keeps a copy of <paramref name="file"/> (unless one of the same content is kept) and returns its reference <c>sha256:HEX</c>.</summary>
    public string Put(string file)
    {
        var hash = Hash(file);
        Keep(hash, Path.GetExtension(file), stream => { using var source = File.OpenRead(file); source.CopyTo(stream); });
        return "sha256:" + hash;
    }

    /// <summary>Keeps <paramref name="bytes"/> as a file ending in <paramref name="extension"/> and returns its reference.</summary>
    public string Put(byte[] bytes, string extension)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Keep(hash, extension, stream => stream.Write(bytes));
        return "sha256:" + hash;
    }

    /// <summary>
    /// Writes the content of <paramref name="hash"/> unless a file of that content is kept (a damaged one is replaced), through
    /// a temporary file named for this machine and process (<see cref="AtomicFile.WriteShared"/>: other machines write this
    /// directory too). The name is the content: when the rename fails but the file now holds the content (another machine
    /// kept it first), that is success.
    /// </summary>
    private void Keep(string hash, string extension, Action<Stream> write)
    {
        var target = PathOf(hash, extension);
        if (Holds(target, hash)) return;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        try { AtomicFile.WriteShared(target, write); }
        catch (EnvironmentFailureException) when (Holds(target, hash)) { }
    }

    /// <summary>True when <paramref name="path"/> exists and hashes to <paramref name="hash"/>.</summary>
    private static bool Holds(string path, string hash)
    {
        try { return File.Exists(path) && Hash(path) == hash; }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e)) { return false; }
    }

    /// <summary>
    /// The path of the artifact <paramref name="reference"/> after checking its content still hashes to it; a missing or
    /// damaged file is a <see cref="TrialStoreException"/> saying which.
    /// </summary>
    public string Open(string reference)
    {
        var hash = HashOf(reference);
        var folder = Path.Combine(Directory, "sha256", hash[..2]);
        var path = System.IO.Directory.Exists(folder) ? System.IO.Directory.EnumerateFiles(folder, hash + "*").FirstOrDefault() : null;
        if (path is null) throw new TrialStoreException($"the artifact {reference} is not in {Directory}; give every machine the same --artifacts directory");
        var actual = Hash(path);
        if (actual != hash) throw new TrialStoreException($"the artifact {path} is damaged: its content hashes to sha256:{actual}, not {reference}; copy it again from the coordinator's machine");
        return path;
    }

    /// <summary>
    /// Keeps every file under <paramref name="directory"/> and a manifest of them (relative path → reference, a file ending
    /// in <see cref="TreeExtension"/>), and returns the manifest's reference: a trial's folder, a data directory.
    /// </summary>
    public string PutTree(string directory) =>
        PutFiles(directory, System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f)));

    /// <summary>
    /// Keeps the files <paramref name="names"/> (paths relative to <paramref name="directory"/>) as a tree, as <see cref="PutTree"/>
    /// does a whole directory: a model and the external data files it names, without the rest of its folder.
    /// </summary>
    public string PutFiles(string directory, IEnumerable<string> names)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in names) files[name.Replace('\\', '/')] = Put(Path.Combine(directory, name));
        return Put(JsonSerializer.SerializeToUtf8Bytes(files), TreeExtension);
    }

    /// <summary>The reference of the file <paramref name="name"/> in the tree <paramref name="tree"/>: <c>sha256:HEX/NAME</c>, which <see cref="OpenPath"/> opens.</summary>
    public static string InTree(string tree, string name) => $"{tree}/{name.Replace('\\', '/')}";

    /// <summary>The extension of a tree's manifest (<see cref="PutTree"/>).</summary>
    public const string TreeExtension = ".tree";

    /// <summary>
    /// The tree <paramref name="reference"/> written as the directory <paramref name="target"/> (replacing it), every file's
    /// hash checked first; written beside and renamed, so the directory is whole or absent.
    /// </summary>
    public string OpenTree(string reference, string target)
    {
        var manifest = Open(reference);
        Dictionary<string, string> files;
        try { files = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(manifest)) ?? []; }
        catch (JsonException) { throw new TrialStoreException($"the artifact {reference} is not a tree of files; give every machine the same --artifacts directory"); }
        var staging = target + ".part-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            foreach (var (name, file) in files)
            {
                var path = Path.GetFullPath(Path.Combine(staging, name));
                if (!path.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new TrialStoreException($"the tree {reference} names '{name}', outside its directory; it was not written by Shrink");
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.Copy(Open(file), path);
            }
            System.IO.Directory.CreateDirectory(staging);
            if (System.IO.Directory.Exists(target)) System.IO.Directory.Delete(target, recursive: true);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
            System.IO.Directory.Move(staging, target);
            return target;
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>A file or a directory kept: <see cref="Put(string)"/> or <see cref="PutTree"/>.</summary>
    public string PutPath(string path) => System.IO.Directory.Exists(path) ? PutTree(path) : Put(path);

    /// <summary>
    /// The local path of what <see cref="PutPath"/> kept: a file's path in this directory (checked), or a tree written under
    /// <paramref name="scratch"/> (checked, once per reference); for a file in a tree (<see cref="InTree"/>), its path in the tree written.
    /// </summary>
    public string OpenPath(string reference, string scratch)
    {
        if (reference.Length > ReferenceLength && reference[ReferenceLength] == '/')
        {
            var (tree, name) = (reference[..ReferenceLength], reference[(ReferenceLength + 1)..]);
            var folder = Path.GetFullPath(OpenPath(tree, scratch));
            var file = Path.GetFullPath(Path.Combine(folder, name));
            if (!file.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(file))
                throw new TrialStoreException($"the tree {tree} holds no file '{name}'; give every machine the same --artifacts directory");
            return file;
        }
        var path = Open(reference);
        if (!path.EndsWith(TreeExtension, StringComparison.Ordinal)) return path;
        var target = Path.Combine(scratch, HashOf(reference));
        return System.IO.Directory.Exists(target) ? target : OpenTree(reference, target);
    }

    /// <summary>The length of a reference <c>sha256:</c> + 64 hex digits.</summary>
    private const int ReferenceLength = 71;

    /// <summary>The file of <paramref name="hash"/> ending in <paramref name="extension"/>.</summary>
    private string PathOf(string hash, string extension) => Path.Combine(Directory, "sha256", hash[..2], hash + extension);

    private static string HashOf(string reference) =>
        reference.StartsWith("sha256:", StringComparison.Ordinal) && reference.Length == ReferenceLength && reference[7..].All(Uri.IsHexDigit)
            ? reference[7..].ToLowerInvariant()
            : throw new TrialStoreException($"'{reference}' is not an artifact reference (sha256:HEX)");

    private static string Hash(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
