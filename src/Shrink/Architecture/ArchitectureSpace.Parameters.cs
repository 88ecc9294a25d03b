using Shrink.Search;

namespace Shrink.Architecture;

/// <summary>One stage as a configuration chose it.</summary>
public sealed record StageChoice(int Blocks, BlockKind Block, int Channels, int Kernel, int Stride, Activation Activation, int Expansion, bool Se, StagePool Pool)
{
    public override string ToString() =>
        $"{ArchitectureSpace.Name(Block)}{(Block == BlockKind.Inverted ? $" e{Expansion}" : "")}{(Blocks > 1 ? $" ×{Blocks}" : "")} {Channels}c k{Kernel} s{Stride} {ArchitectureSpace.Name(Activation)}"
        + (Se ? " se" : "") + (Pool == StagePool.None ? "" : $" {ArchitectureSpace.Name(Pool)}-pool");
}

/// <summary>The head as a configuration chose it (<see cref="Width"/> 0: no hidden layer).</summary>
public sealed record HeadChoice(HeadPooling Pooling, int Width, Activation Activation);

/// <summary>An MLP as a configuration chose it: the hidden widths in order.</summary>
public sealed record MlpChoice(IReadOnlyList<int> Widths, Activation Activation);

/// <summary>The parameters of an <see cref="ArchitectureSpace"/> and the checks of its file.</summary>
public sealed partial class ArchitectureSpace
{
    /// <summary>The name of a stage's parameter: <c>stage2.channels</c> for stage index 1.</summary>
    public static string StageParameter(int stage, string key) => $"stage{stage + 1}.{key}";

    private void Validate()
    {
        if (Spec.Version != 1) throw Fail("version", $"{Spec.Version} is not known; this Shrink reads version 1 space files");
        if (Spec.Kind == ArchitectureKind.Mlp)
        {
            if (Spec.Stages.Count > 0) throw Fail("stages", "belong to a cnn space; set kind: cnn, or describe the layers under mlp");
            var m = Spec.Mlp ?? throw Fail("kind", "is mlp and the file has no mlp section; give mlp: { layers: [1, 2], width: [64, 128] }");
            Values("mlp.layers", m.Layers, 0, 64);
            if (m.Layers.Max() > 0) Values("mlp.width", m.Width, 1, 1 << 16);
            Values("mlp.activation", m.Activation);
            return;
        }
        if (Spec.Mlp is not null) throw Fail("mlp", "belongs to an mlp space; set kind: mlp, or describe the network as stages");
        if (Spec.Stages.Count == 0) throw Fail("stages", "is empty: the space holds no network; give at least one stage (block, channels, …)");
        for (var i = 0; i < Spec.Stages.Count; i++) ValidateStage(i, Spec.Stages[i]);
        Values("head.pooling", Spec.Head.Pooling);
        Values("head.classifier", Spec.Head.Classifier, 0, 1 << 16);
        Values("head.activation", Spec.Head.Activation);
    }

    private void ValidateStage(int i, StageSpec s)
    {
        var key = $"stages[{i}]";
        Values($"{key}.blocks", s.Blocks, 1, 32);
        Values($"{key}.block", s.Block);
        Values($"{key}.channels", s.Channels, 1, 1 << 14);
        Values($"{key}.kernel", s.Kernel, 1, 15);
        if (s.Kernel.FirstOrDefault(k => k % 2 == 0) is > 0 and var even)
            throw Fail($"{key}.kernel", $"holds {even}; kernels are odd (1, 3, 5, 7), so that a stride-1 block keeps the size");
        Values($"{key}.stride", s.Stride, 1, 4);
        Values($"{key}.activation", s.Activation);
        Values($"{key}.se", s.Se);
        Values($"{key}.pool", s.Pool);
        if (s.Expansion is { } e)
        {
            if (!s.Block.Contains(BlockKind.Inverted))
                throw Fail($"{key}.expansion", "is given but the stage has no inverted block; add inverted to block, or leave expansion out");
            Values($"{key}.expansion", e, 1, 16);
        }
    }

    /// <summary>A list of choices is not empty, holds each value once and (integers) lies in [min, max].</summary>
    private void Values<T>(string key, IReadOnlyList<T> values, int min = 0, int max = 0)
    {
        if (values.Count == 0) throw Fail(key, "is empty; give at least one value to choose from");
        var twice = values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw Fail(key, $"lists {Shown(twice.Key)} twice; give each value once");
        if (values is IReadOnlyList<int> ints && ints.FirstOrDefault(v => v < min || v > max) is var bad && ints.Any(v => v < min || v > max))
            throw Fail(key, $"holds {bad}, outside {min} to {max}");
    }

    private static string Shown<T>(T value) => value switch { Enum e => YamlScalarsName(e), bool b => b ? "true" : "false", _ => $"{value}" };

    private static string YamlScalarsName(Enum e) => Recipes.YamlScalars.Kebab(e.ToString());

    private static IReadOnlyList<int> Expansions(StageSpec s) => s.Expansion ?? [4];

    private IEnumerable<Parameter> Parameters()
    {
        if (Spec.Kind == ArchitectureKind.Mlp)
        {
            var m = Spec.Mlp!;
            yield return Choice("mlp.layers", m.Layers);
            for (var i = 1; i <= m.Layers.Max(); i++)
                yield return Choice($"layer{i}.width", m.Width).OnlyWhen("mlp.layers", m.Layers.Where(l => l >= i).Cast<object?>().ToArray());
            yield return Choice("mlp.activation", m.Activation);
            yield break;
        }
        for (var i = 0; i < Spec.Stages.Count; i++)
            foreach (var p in StageParameters(i, Spec.Stages[i])) yield return p;
        var head = Spec.Head;
        yield return Choice("head.pooling", head.Pooling);
        yield return Choice("head.classifier", head.Classifier);
        var hidden = head.Classifier.Where(w => w > 0).Cast<object?>().ToArray();
        if (hidden.Length > 0) yield return Choice("head.activation", head.Activation).OnlyWhen("head.classifier", hidden);
    }

    private static IEnumerable<Parameter> StageParameters(int i, StageSpec s)
    {
        yield return Choice(StageParameter(i, "blocks"), s.Blocks);
        yield return Choice(StageParameter(i, "block"), s.Block);
        yield return Choice(StageParameter(i, "channels"), s.Channels);
        yield return Choice(StageParameter(i, "kernel"), s.Kernel);
        yield return Choice(StageParameter(i, "stride"), s.Stride);
        yield return Choice(StageParameter(i, "activation"), s.Activation);
        if (s.Block.Contains(BlockKind.Inverted))
            yield return Choice(StageParameter(i, "expansion"), Expansions(s)).OnlyWhen(StageParameter(i, "block"), Name(BlockKind.Inverted));
        yield return Choice(StageParameter(i, "se"), s.Se);
        yield return Choice(StageParameter(i, "pool"), s.Pool);
    }

    private static CategoricalParameter Choice<T>(string name, IReadOnlyList<T> values) =>
        Parameter.Choice(name, values.Select(v => v is Enum e ? (object?)YamlScalarsName(e) : v).ToArray());

    private static T EnumOf<T>(Configuration c, string name) where T : struct, Enum =>
        System.Enum.GetValues<T>().First(v => Name(v) == c.GetString(name));

    private List<StageChoice> StagesOf(Configuration c) => Spec.Stages.Select((_, i) =>
    {
        string P(string key) => StageParameter(i, key);
        var block = EnumOf<BlockKind>(c, P("block"));
        return new StageChoice((int)c.GetInt(P("blocks")), block, (int)c.GetInt(P("channels")), (int)c.GetInt(P("kernel")), (int)c.GetInt(P("stride")),
            EnumOf<Activation>(c, P("activation")), block == BlockKind.Inverted ? (int)c.GetInt(P("expansion")) : 1, c.GetBool(P("se")), EnumOf<StagePool>(c, P("pool")));
    }).ToList();

    private static HeadChoice HeadOf(Configuration c)
    {
        var width = (int)c.GetInt("head.classifier");
        return new HeadChoice(EnumOf<HeadPooling>(c, "head.pooling"), width, width > 0 ? EnumOf<Activation>(c, "head.activation") : Activation.Relu);
    }

    private static MlpChoice MlpOf(Configuration c)
    {
        var layers = (int)c.GetInt("mlp.layers");
        return new MlpChoice(Enumerable.Range(1, layers).Select(i => (int)c.GetInt($"layer{i}.width")).ToList(), EnumOf<Activation>(c, "mlp.activation"));
    }
}
