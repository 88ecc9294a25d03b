using System.Security.Cryptography;
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
        var target = PathOf(hash, Path.GetExtension(file));
        if (!File.Exists(target))
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            AtomicFile.Write(target, stream => { using var source = File.OpenRead(file); source.CopyTo(stream); });
        }
        return "sha256:" + hash;
    }

    /// <summary>Keeps <paramref name="bytes"/> as a file ending in <paramref name="extension"/> and returns its reference.</summary>
    public string Put(byte[] bytes, string extension)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var target = PathOf(hash, extension);
        if (!File.Exists(target))
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            AtomicFile.Write(target, stream => stream.Write(bytes));
        }
        return "sha256:" + hash;
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

    /// <summary>The file of <paramref name="hash"/> ending in <paramref name="extension"/>.</summary>
    private string PathOf(string hash, string extension) => Path.Combine(Directory, "sha256", hash[..2], hash + extension);

    private static string HashOf(string reference) =>
        reference.StartsWith("sha256:", StringComparison.Ordinal) && reference.Length == 71 && reference[7..].All(Uri.IsHexDigit)
            ? reference[7..].ToLowerInvariant()
            : throw new TrialStoreException($"'{reference}' is not an artifact reference (sha256:HEX)");

    private static string Hash(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
