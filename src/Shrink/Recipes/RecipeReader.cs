using Shrink.Techniques;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>Reads recipe YAML into a <see cref="Recipe"/>, refusing anything it does not know with one line (<see cref="RecipeException"/>).</summary>
internal static class RecipeReader
{
    private static readonly string[] HeaderKeys = ["version", "tool", "model", "data", "runtime", "stages"];

    public static Recipe Parse(string text, string source, string baseDirectory)
    {
        var root = Root(text, source);
        var header = new YamlBinder(source, null);
        var sections = new Dictionary<string, (YamlNode Key, YamlNode Value)>();
        foreach (var (k, v) in root.Children)
        {
            var name = header.Key(k, "");
            if (!HeaderKeys.Contains(name)) throw header.Fail(k, name, $"unknown key; known keys: {string.Join(", ", HeaderKeys)}");
            sections[name] = (k, v);
        }
        foreach (var required in new[] { "version", "model", "stages" })
            if (!sections.ContainsKey(required)) throw new RecipeException(source, root.Start.Line, null, required, "missing; a recipe has version: 1, model and stages");
        var lines = new Dictionary<string, long>();
        var version = Version(header, sections["version"].Value);
        var recipe = new Recipe
        {
            Version = version,
            Tool = sections.TryGetValue("tool", out var tool) ? (string?)header.Bind(tool.Value, typeof(string), "tool") : null,
            Model = RecipeFiles.Model(header, sections["model"].Value, baseDirectory, lines),
            Data = sections.TryGetValue("data", out var data) ? RecipeFiles.Data(header, data.Value, baseDirectory, lines, version) : new RecipeData(),
            Runtime = sections.TryGetValue("runtime", out var runtime) ? (RecipeRuntime)header.Record(runtime.Value, typeof(RecipeRuntime), "runtime") : new RecipeRuntime(),
            Stages = Stages(source, header, sections["stages"].Value),
            Source = source,
            Lines = lines,
        };
        return recipe;
    }

    private static YamlMappingNode Root(string text, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e)
        {
            throw new RecipeException(source, e.Start.Line, null, "(syntax)", $"not valid YAML: {Text.Message.OneLine(e.InnerException?.Message ?? e.Message, 200)}", e);
        }
        if (stream.Documents.Count != 1)
            throw new RecipeException(source, 1, null, "(file)", stream.Documents.Count == 0 ? "empty; a recipe has version: 1, model and stages" : "holds several YAML documents; give one recipe per file");
        return stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new RecipeException(source, stream.Documents[0].RootNode.Start.Line, null, "(file)", "must be a mapping with version, model and stages");
    }

    private static int Version(YamlBinder header, YamlNode node)
    {
        var version = (int)header.Bind(node, typeof(int), "version")!;
        return version is >= 1 and <= Recipe.CurrentVersion ? version
            : throw header.Fail(node, "version", $"version {version} is not known; this Shrink reads recipes of versions 1 to {Recipe.CurrentVersion}");
    }

    private static IReadOnlyList<RecipeStage> Stages(string source, YamlBinder header, YamlNode node)
    {
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
            throw header.Fail(node, "stages", $"must be a list of one or more stages (- technique: ID), not {YamlScalars.Describe(node)}");
        return list.Children.Select((stage, i) => Stage(source, header, stage, i)).ToList();
    }

    private static RecipeStage Stage(string source, YamlBinder header, YamlNode node, int index)
    {
        var key = $"stages[{index}]";
        if (node is not YamlMappingNode map) throw header.Fail(node, key, $"must be a mapping with technique and options, not {YamlScalars.Describe(node)}");
        YamlNode? technique = null, options = null;
        foreach (var (k, v) in map.Children)
            switch (header.Key(k, key))
            {
                case "technique": technique = v; break;
                case "options": options = v; break;
                default: throw new RecipeException(source, k.Start.Line, $"stage {index + 1}", header.Key(k, key), "unknown key; a stage has technique and options");
            }
        if (technique is null) throw new RecipeException(source, map.Start.Line, $"stage {index + 1}", "technique", "missing; name a registered technique");
        var id = (string?)header.Bind(technique, typeof(string), $"{key}.technique") ?? "";
        var label = RecipeStage.Label(index, id);
        ITechnique found;
        try { found = TechniqueRegistry.Find(id); }
        catch (OptionsException e) { throw new RecipeException(source, technique.Start.Line, label, "technique", e.Message); }
        var lines = new Dictionary<string, long>();
        var bound = options is null || options is YamlScalarNode s && YamlScalars.IsNull(s)
            ? YamlTypes.New(found.OptionsType)
            : new YamlBinder(source, label) { Lines = lines }.Record(options, found.OptionsType, "options");
        return new RecipeStage(id, bound) { Line = technique.Start.Line, OptionLines = lines };
    }
}
