using Shrink.Text;

namespace Shrink.IO;

/// <summary>Output directories (run directories, report folders): created when missing, refused when the path is something else.</summary>
public static class OutputDirectory
{
    /// <summary>Creates <paramref name="path"/> (and its parents) unless it is a directory already; one line naming <paramref name="option"/> otherwise.</summary>
    public static string Create(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OptionsException($"{option} is empty; give a directory path");
        var kind = FileIdentity.Of(path).Kind;
        if (kind is not (FileKind.Missing or FileKind.Directory))
            throw new OptionsException($"{option} '{Message.Name(path)}' is {FileIdentity.Describe(kind)}, not a directory; give a directory path");
        try { return Directory.CreateDirectory(path).FullName; }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw EnvironmentFailureException.From($"create directory '{Message.Name(path)}' ({option})", e);
        }
    }
}
