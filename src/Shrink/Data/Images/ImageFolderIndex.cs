namespace Shrink.Data.Images;

/// <summary>
/// The images of a folder in torchvision's <c>ImageFolder</c> layout: one subfolder per class, the classes in ordinal
/// order of their folder names (class index = position), each class's images found under its folder at any depth, in
/// ordinal path order. Folders whose names start with a dot (<c>.ipynb_checkpoints</c>) are not classes.
/// </summary>
internal sealed class ImageFolderIndex
{
    private ImageFolderIndex(string root, IReadOnlyList<string> classes, string[] files, int[] labels)
        => (Root, Classes, Files, Labels) = (root, classes, files, labels);

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>The class names, in index order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Every image's path.</summary>
    public string[] Files { get; }

    /// <summary>The class index of each image.</summary>
    public int[] Labels { get; }

    /// <summary>Whether <paramref name="directory"/> has a subfolder holding an image (a quick look, not a scan).</summary>
    public static bool LooksLike(string directory) =>
        ClassFolders(directory).Any(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories).Any(ImageDecoder.IsImage));

    /// <summary>
    /// Scans <paramref name="root"/>. With <paramref name="classes"/> (a training split's), its class folders must be
    /// among them and take their indices, so train and validation agree on what each index means.
    /// </summary>
    /// <exception cref="DataException">No class folders, an empty class folder, or a class the training split lacks.</exception>
    public static ImageFolderIndex Scan(string root, IReadOnlyList<string>? classes = null)
    {
        var folders = ClassFolders(root).ToArray();
        var what = $"image folder '{Text.Message.Name(root, 200)}'";
        if (folders.Length == 0)
            throw new DataException($"{what} has no class subfolders; put each class's images in a subfolder named after the class");
        var names = folders.Select(Path.GetFileName).Select(n => n!).ToArray();
        classes ??= names;
        var (files, labels) = (new List<string>(), new List<int>());
        foreach (var (folder, name) in folders.Zip(names))
        {
            var index = IndexOf(classes, name, what);
            var images = Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true })
                .Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal).ToArray();
            if (images.Length == 0)
                throw new DataException($"{what}: class folder '{Text.Message.Name(name)}' holds no images ({string.Join(", ", ImageDecoder.Extensions)}); add images or remove the folder");
            files.AddRange(images);
            labels.AddRange(Enumerable.Repeat(index, images.Length));
        }
        return new ImageFolderIndex(root, classes, files.ToArray(), labels.ToArray());
    }

    /// <summary>The index without the files at <paramref name="drop"/>.</summary>
    public ImageFolderIndex Without(IReadOnlySet<int> drop)
    {
        var keep = Enumerable.Range(0, Files.Length).Where(i => !drop.Contains(i)).ToArray();
        var result = new ImageFolderIndex(Root, Classes, keep.Select(i => Files[i]).ToArray(), keep.Select(i => Labels[i]).ToArray());
        foreach (var (name, c) in Classes.Select((n, c) => (n, c)))
            if (result.Labels.Length > 0 && !result.Labels.Contains(c) && Labels.Contains(c))
                throw new DataException($"image folder '{Text.Message.Name(Root, 200)}': every image of class '{Text.Message.Name(name)}' is unreadable; replace them or remove the folder");
        return result;
    }

    private static int IndexOf(IReadOnlyList<string> classes, string name, string what)
    {
        for (var i = 0; i < classes.Count; i++)
            if (string.Equals(classes[i], name, StringComparison.Ordinal)) return i;
        throw new DataException($"{what}: class folder '{Text.Message.Name(name)}' is not a class of the training split ({Text.Message.List(classes.Select(c => Text.Message.Name(c)))}); give both splits the same class folders");
    }

    private static IEnumerable<string> ClassFolders(string root) =>
        Directory.EnumerateDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal);
}
