namespace Shrink.Data;

/// <summary>Opens and reads data files (regular files only), turning a missing or unreadable file into a <see cref="DataException"/>.</summary>
internal static class DataFiles
{
    /// <summary>Reads every byte of <paramref name="path"/>.</summary>
    public static byte[] ReadAllBytes(string path, string what) => Checked(path, what, File.ReadAllBytes);

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    public static FileStream Open(string path, string what) => Checked(path, what, File.OpenRead);

    private static T Checked<T>(string path, string what, Func<string, T> open)
    {
        if (IO.FileIdentity.NotRegular(path, what) is { } problem) throw new DataException(problem);
        try
        {
            return open(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataException($"{what} '{path}' does not exist; check the path", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DataException($"{what} '{path}' cannot be read (access denied); check its permissions", e);
        }
    }

    /// <summary>Reads the rest of <paramref name="stream"/> into memory.</summary>
    public static byte[] ReadAllBytes(Stream stream)
    {
        if (stream is MemoryStream ms && ms.Position == 0)
            return ms.ToArray();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
