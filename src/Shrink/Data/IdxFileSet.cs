namespace Shrink.Data;

/// <summary>
/// The four Fashion-MNIST IDX files found in one directory, each either raw or <c>.gz</c>,
/// and the ones that are missing.
/// </summary>
internal sealed class IdxFileSet
{
    /// <summary>The base names of the four files, without <c>.gz</c>.</summary>
    public static readonly string[] Names =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private readonly Dictionary<string, string> _paths;

    private IdxFileSet(string directory, bool exists, Dictionary<string, string> paths, List<string> missing)
        => (Directory, Exists, _paths, Missing) = (directory, exists, paths, missing);

    /// <summary>The directory searched.</summary>
    public string Directory { get; }

    /// <summary>Whether the directory exists.</summary>
    public bool Exists { get; }

    /// <summary>Base names of the files not found.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Base name of the image file of <paramref name="split"/> ("train" or "test").</summary>
    public static string ImagesName(string split) => split == "train" ? Names[0] : Names[2];

    /// <summary>Base name of the label file of <paramref name="split"/> ("train" or "test").</summary>
    public static string LabelsName(string split) => split == "train" ? Names[1] : Names[3];

    /// <summary>Looks for the four files in <paramref name="directory"/>, preferring the raw file to the <c>.gz</c>.</summary>
    public static IdxFileSet Find(string directory)
    {
        var paths = new Dictionary<string, string>();
        var missing = new List<string>();
        bool exists = System.IO.Directory.Exists(directory);
        foreach (var name in Names)
        {
            var path = new[] { name, name + ".gz" }.Select(n => System.IO.Path.Combine(directory, n)).FirstOrDefault(File.Exists);
            if (exists && path is not null)
                paths[name] = path;
            else
                missing.Add(name);
        }
        return new IdxFileSet(directory, exists, paths, missing);
    }

    /// <summary>The path of the file with base name <paramref name="name"/>; it must have been found.</summary>
    public string Path(string name) => _paths[name];

    /// <summary>What is wrong, for an error message: "directory does not exist" or "missing a[.gz], b[.gz]".</summary>
    public string Describe()
        => !Exists ? "directory does not exist"
            : Missing.Count == 0 ? "all files present"
            : "missing " + string.Join(", ", Missing.Select(n => n + "[.gz]"));
}
