using Shrink.Ir;
using Shrink.Recipes;
using Shrink.Search;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shrink.Architecture;

/// <summary>
/// A space of network architectures read from YAML (<see cref="ArchitectureSpec"/>), as a <see cref="SearchSpace"/> of the
/// search engine: every list of a stage, the head or the MLP section is one categorical <see cref="Parameter"/>
/// (<c>stage1.block</c>, <c>stage1.channels</c>, …, <c>head.classifier</c>; <c>mlp.layers</c>, <c>layer2.width</c>, …), the
/// expansion ratio active only for inverted residual blocks, a layer's width only when the MLP has that many layers.
/// <see cref="Build"/> makes the network of one configuration for the data's sample shape and classes. Strict: an unknown
/// key, block or activation, a wrong type, an empty or repeated list is one <see cref="ArchitectureSpaceException"/> line
/// naming the file, the line and the key; <see cref="Check"/> refuses a space that can build a network the data cannot
/// go through (a spatial size reaching zero) before any search.
/// </summary>
/// <example><code>
/// var space = ArchitectureSpace.Parse("""
///     kind: cnn
///     stages:
///       - { block: [conv, depthwise], channels: [16, 32], stride: [2] }
///       - { block: [inverted], channels: [32, 64], expansion: [2, 4], stride: [2], se: [false, true] }
///     """);
/// var model = space.Build(space.Space.Sample(SearchRandom.For(0, "example", 0)), [1, 28, 28], classes: 10);
/// </code></example>
public sealed partial class ArchitectureSpace
{
    private readonly Dictionary<string, long> _lines;

    private ArchitectureSpace(ArchitectureSpec spec, string source, Dictionary<string, long> lines)
    {
        (Spec, Source, _lines) = (spec, source, lines);
        Validate();
        Space = new SearchSpace(Parameters());
    }

    /// <summary>The space as written.</summary>
    public ArchitectureSpec Spec { get; }

    /// <summary>The file it was read from (or the name given to <see cref="Parse"/>).</summary>
    public string Source { get; }

    /// <summary>The space as the search engine takes it.</summary>
    public SearchSpace Space { get; }

    /// <summary>Reads the space file at <paramref name="path"/>.</summary>
    public static ArchitectureSpace Load(string path) =>
        Parse(System.Text.Encoding.UTF8.GetString(Data.DataFiles.ReadAllBytes(path, "space file")), path);

    /// <summary>The space <paramref name="text"/> holds; <paramref name="source"/> names it in messages.</summary>
    public static ArchitectureSpace Parse(string text, string source = "(space)")
    {
        ArgumentNullException.ThrowIfNull(text);
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e)
        {
            throw new ArchitectureSpaceException(source, e.Start.Line, "(syntax)", $"not valid YAML: {Text.Message.OneLine(e.InnerException?.Message ?? e.Message, 200)}", e);
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArchitectureSpaceException(source, 1, "(file)", "is empty or not one mapping; give kind and the stages (cnn) or the mlp section");
        var lines = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            var spec = (ArchitectureSpec)new YamlBinder(source, null) { Lines = lines }.Record(root, typeof(ArchitectureSpec), "");
            return new ArchitectureSpace(spec, source, lines);
        }
        catch (RecipeException e)
        {
            throw new ArchitectureSpaceException(e);
        }
    }

    /// <summary>The space of a spec made in code (messages name <paramref name="source"/> and line 0).</summary>
    public static ArchitectureSpace From(ArchitectureSpec spec, string source = "(spec)") => new(spec ?? throw new ArgumentNullException(nameof(spec)), source, []);

    /// <summary>
    /// Refuses (<see cref="ArchitectureSpaceException"/>) a space that cannot build a network for samples of
    /// <paramref name="sampleShape"/> and <paramref name="classes"/> classes: a CNN space on samples that are not C×H×W,
    /// or one whose stages, each at its largest stride and pooled where it may be, reduce the image to nothing.
    /// </summary>
    public void Check(IReadOnlyList<int> sampleShape, int classes)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (classes < 2) throw Fail("kind", $"builds classifiers, and the data has {classes} class{(classes == 1 ? "" : "es")}; give labelled data with two classes or more");
        if (Spec.Kind == ArchitectureKind.Mlp) return;
        if (sampleShape.Count != 3)
            throw Fail("kind", $"is cnn, which needs image samples (channels × height × width), and the data's samples are [{string.Join("×", sampleShape)}]; use an mlp space or image data");
        var (h, w) = ((long)sampleShape[1], (long)sampleShape[2]);
        for (var i = 0; i < Spec.Stages.Count; i++)
        {
            var s = Spec.Stages[i];
            var stride = s.Stride.Max();
            (h, w) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
            var pooled = s.Pool.Any(p => p != StagePool.None);
            if (pooled) (h, w) = (h / 2, w / 2);
            if (h == 0 || w == 0)
                throw Fail($"stages[{i}]", $"can shrink the {sampleShape[1]}×{sampleShape[2]} input to {h}×{w} (every stage at its largest stride{(pooled ? ", then pooled" : "")}), which no layer can take; lower a stride, drop a pooling or a stage");
        }
    }

    /// <summary>
    /// The network of <paramref name="configuration"/> (checked against <see cref="Space"/>) for samples of
    /// <paramref name="sampleShape"/> and <paramref name="classes"/> classes: input <c>input</c> [N, …], output
    /// <c>output</c> [N, classes] (logits), weights initialized from <paramref name="seed"/>. The model is valid
    /// (graph checked); every model Shrink writes is also loaded in ONNX Runtime by <see cref="Runtime.ModelSaver"/>.
    /// </summary>
    public Model Build(Configuration configuration, IReadOnlyList<int> sampleShape, int classes, int seed = 0)
    {
        Check(sampleShape, classes);
        var c = Space.Check(configuration);
        return Spec.Kind == ArchitectureKind.Mlp
            ? ArchitectureBuilder.Mlp(MlpOf(c), sampleShape, classes, seed)
            : ArchitectureBuilder.Cnn(StagesOf(c), HeadOf(c), sampleShape, classes, seed);
    }

    /// <summary>"inverted×2 32c k3 s2 relu6 se | average → 64 → classes": a configuration in one short line.</summary>
    public string Summary(Configuration configuration)
    {
        var c = Space.Check(configuration);
        if (Spec.Kind == ArchitectureKind.Mlp)
        {
            var m = MlpOf(c);
            return $"mlp {string.Join("-", m.Widths)}{(m.Widths.Count > 0 ? " " + Name(m.Activation) : "")} → classes";
        }
        var head = HeadOf(c);
        return string.Join(" | ", StagesOf(c).Select(s => s.ToString()))
            + $" | {Name(head.Pooling)}{(head.Width > 0 ? $" → {head.Width} {Name(head.Activation)}" : "")} → classes";
    }

    /// <summary>An enum value as the file writes it: <c>inverted</c>, <c>hardswish</c>, <c>relu6</c>.</summary>
    internal static string Name<T>(T value) where T : struct, Enum => YamlScalars.Kebab(value.ToString());

    private ArchitectureSpaceException Fail(string key, string problem) => new(Source, Line(key), key, problem);

    /// <summary>The line of <paramref name="key"/>, else of the nearest enclosing key that has one, else 1.</summary>
    private long Line(string key)
    {
        for (var k = key; k.Length > 0; k = k.Contains('.') ? k[..k.LastIndexOf('.')] : k.Contains('[') ? k[..k.LastIndexOf('[')] : "")
        {
            if (_lines.TryGetValue(k, out var line)) return line;
            var inside = _lines.Where(kv => kv.Key.StartsWith(k + ".", StringComparison.Ordinal)).Select(kv => kv.Value).ToList();
            if (inside.Count > 0) return inside.Min();
        }
        return _lines.Count == 0 ? 0 : 1;
    }
}
