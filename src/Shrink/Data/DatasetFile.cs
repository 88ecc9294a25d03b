using Shrink.Data.Sources;
using Shrink.Ir;
using Shrink.Recipes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shrink.Data;

/// <summary>
/// A YAML dataset file: where the data is and how it is read, bound strictly (an unknown key, a wrong type or a missing
/// path is one <see cref="DataException"/> line naming the file, the line and the key). Keys: <c>version</c> (optional, 1),
/// either <c>source</c> (a directory or a <c>.npy</c>/<c>.npz</c>/<c>.csv</c> file, opened as <see cref="DataSources.Open"/>
/// opens it) or <c>train</c> and <c>test</c> (each a file or a folder), paths relative to the YAML file; and every
/// property of <see cref="DataOptions"/> in kebab case (<c>split-fraction</c>, <c>seed</c>, <c>image</c>, <c>augment</c>,
/// <c>csv</c>, <c>class-count</c>, <c>skip-bad</c>, <c>workers</c>). The options the caller gives override the file's keys
/// where they are set (<see cref="DataOptions.Over"/>), as command-line flags override a configuration file.
/// </summary>
/// <example>
/// <code>
/// version: 1
/// train: fmnist32/train
/// test: fmnist32/val
/// image: { size: [32, 32], channels: 3, mean: [0.286], std: [0.353] }
/// augment: { padding: 4, flip: true }
/// </code>
/// </example>
internal static class DatasetFile
{
    private static readonly string[] OwnKeys = ["version", "source", "train", "test"];

    /// <summary>Opens the data <paramref name="path"/> describes, with <paramref name="options"/> as the base of its options.</summary>
    public static DataSplits Open(string path, DataOptions options, Model? model)
    {
        try
        {
            var root = Root(System.Text.Encoding.UTF8.GetString(DataFiles.ReadAllBytes(path, "dataset file")), path);
            var binder = new YamlBinder(path, null);
            var (own, merged) = Bind(root, binder, options);
            var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            string? Resolve(string key) => own.TryGetValue(key, out var node) ? Existing(binder, node, key, dir) : null;
            var (source, train, test) = (Resolve("source"), Resolve("train"), Resolve("test"));
            if ((source is null) == (train is null))
                throw new RecipeException(path, root.Start.Line, null, source is null ? "train" : "source", "give either source, or train (and test), not both or neither");
            if (test is not null && train is null) throw new RecipeException(path, own["test"].Start.Line, null, "test", "test needs train beside it");
            if (source is not null)
                return Path.GetExtension(source).ToLowerInvariant() is ".yaml" or ".yml"
                    ? throw new RecipeException(path, own["source"].Start.Line, null, "source", "names another dataset file; name the data itself")
                    : DataSources.Open(source, merged, model);
            var first = DataKinds.Part(train!, merged, model, null, training: true)!;
            if (test is null) return DataSources.Finish(first is ImageFolderSource i ? new Opened(i, i.AsSplit(false, merged), false) : DataKinds.Single(first), merged);
            var second = DataKinds.Part(test, merged, model, first as ImageFolderSource, training: false)!;
            return DataSources.Finish(new Opened(first, second, OwnSplits: true), merged);
        }
        catch (RecipeException e)
        {
            throw new DataException(e.Message, e);
        }
    }

    /// <summary>The file's own keys (version, source, train, test) and the options: each other key set, then <paramref name="options"/> over them.</summary>
    private static (Dictionary<string, YamlNode> Own, DataOptions Options) Bind(YamlMappingNode root, YamlBinder binder, DataOptions options)
    {
        var properties = YamlTypes.Properties(typeof(DataOptions));
        var (own, file) = (new Dictionary<string, YamlNode>(), new DataOptions());
        foreach (var (k, v) in root.Children)
        {
            var key = binder.Key(k, "");
            if (OwnKeys.Contains(key)) { own[key] = v; continue; }
            var property = properties.FirstOrDefault(p => p.Key == key).Property
                ?? throw binder.Fail(k, key, $"unknown key; known keys: {string.Join(", ", OwnKeys.Concat(properties.Select(p => p.Key)))}");
            property.SetValue(file, binder.Bind(v, property.PropertyType, key));
        }
        if (own.TryGetValue("version", out var version) && binder.Bind(version, typeof(int), "version") is not 1)
            throw binder.Fail(version, "version", "is not known; this Shrink reads version 1 dataset files");
        return (own, options.Over(file));
    }

    private static string Existing(YamlBinder binder, YamlNode node, string key, string dir)
    {
        var given = binder.Bind(node, typeof(string), key) as string;
        if (string.IsNullOrEmpty(given)) throw binder.Fail(node, key, "must name a file or a folder");
        var path = Path.GetFullPath(Path.Combine(dir, given));
        return File.Exists(path) || Directory.Exists(path) ? path
            : throw binder.Fail(node, key, $"'{Text.Message.Name(path, 200)}' does not exist; give a path relative to the dataset file");
    }

    private static YamlMappingNode Root(string text, string path)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e)
        {
            throw new RecipeException(path, e.Start.Line, null, "(syntax)", $"not valid YAML: {Text.Message.OneLine(e.InnerException?.Message ?? e.Message, 200)}", e);
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new RecipeException(path, 1, null, "(file)", "must be one mapping with source (or train and test) and the data options");
        return root;
    }
}
