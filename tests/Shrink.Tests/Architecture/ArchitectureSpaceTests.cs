using Shrink.Architecture;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Search;
using Shrink.Stats;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Architecture;

/// <summary>
/// <see cref="ArchitectureSpace"/>: the shipped example spaces, the parameters a file becomes (conditional ones included),
/// the networks it builds (valid, loaded and run in ONNX Runtime with the right output shape), and one line naming the
/// file, line and key for every bad file.
/// </summary>
public class ArchitectureSpaceTests
{
    /// <summary>A file of the repository's <c>spaces/</c> folder (found above the test binaries).</summary>
    public static string Example(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Shrink.sln")) && Directory.Exists(Path.Combine(dir.FullName, "spaces")))
                return Path.Combine(dir.FullName, "spaces", name);
        throw new DirectoryNotFoundException("no spaces/ folder above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string, int[]> Examples => new()
    {
        { "fashion-cnn.yaml", [1, 28, 28] }, { "fashion-mlp.yaml", [1, 28, 28] }, { "image-folder-32.yaml", [3, 32, 32] },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_shipped_example_builds_networks_that_ONNX_Runtime_runs(string file, int[] sample)
    {
        var space = ArchitectureSpace.Load(Example(file));
        space.Check(sample, 10);
        Assert.True(space.Space.Size > 100, $"{file} holds {space.Space.Size} configurations");
        using var dir = new TempDirectory();
        for (var i = 0; i < 4; i++)
        {
            var c = space.Space.Sample(SearchRandom.For(7, "test", i));
            var model = space.Build(c, sample, 10, seed: i);
            var path = dir.File($"{i}.onnx");
            ModelSaver.Save(model, path);   // validates and loads it in ONNX Runtime
            using var runner = OnnxRunner.Load(path);
            var input = new float[2 * sample.Aggregate(1, (a, d) => a * d)];
            var (output, shape) = runner.RunFloat(input, [2, .. sample.Select(d => (long)d)]);
            Assert.Equal(new long[] { 2, 10 }, shape);
            Assert.All(output, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(ModelStats.Compute(model).Parameters, ArchitectureMetrics.Static(model)[ArchitectureMetrics.Params]);
        }
    }

    [Fact]
    public void Expansion_is_a_parameter_only_of_inverted_blocks_and_a_layers_width_only_when_the_MLP_has_it()
    {
        var cnn = ArchitectureSpace.Parse("stages:\n  - { block: [conv, inverted], channels: [8], expansion: [2, 4] }\n");
        var expansion = cnn.Space["stage1.expansion"];
        Assert.Equal("stage1.block", expansion.Condition!.Parent);
        Assert.Equal(3, cnn.Space.Size);   // conv, or inverted with one of 2 expansions
        var configurations = cnn.Space.Enumerate().ToList();
        Assert.Equal(3, configurations.Count);
        Assert.All(configurations, c => Assert.Equal(c.GetString("stage1.block") == "inverted", c.Has("stage1.expansion")));

        var mlp = ArchitectureSpace.Parse("kind: mlp\nmlp: { layers: [1, 2], width: [16, 32] }\n");
        Assert.Equal(2 + 4, mlp.Space.Size);
        Assert.All(mlp.Space.Enumerate(), c => Assert.Equal(c.GetInt("mlp.layers") == 2, c.Has("layer2.width")));
    }

    [Fact]
    public void The_blocks_are_built_as_their_papers_describe()
    {
        var space = ArchitectureSpace.Parse("""
            stages:
              - { block: [conv], channels: [8], activation: [relu6] }
              - { block: [inverted], channels: [8], expansion: [3], activation: [hardswish], se: [true] }
              - { block: [residual], channels: [16], stride: [2], activation: [gelu] }
              - { block: [depthwise], channels: [16], activation: [tanh], pool: [max] }
            head: { pooling: [max], classifier: [32], activation: [sigmoid] }
            """);
        var model = space.Build(space.Space.Enumerate().Single(), [1, 16, 16], 4);
        var ops = model.Graph.Nodes.Select(n => n.OpType).ToList();
        Assert.Contains("Clip", ops);
        Assert.Contains("HardSwish", ops);
        Assert.Contains("Erf", ops);   // gelu below opset 20
        Assert.Contains("GlobalMaxPool", ops);
        Assert.Contains("MaxPool", ops);
        Assert.Single(model.Graph.Nodes, n => n.OpType == "Mul" && n.Inputs[1]!.Producer?.OpType == "Sigmoid");   // the one squeeze-excitation gate
        Assert.Equal(2, model.Graph.Nodes.Count(n => n.OpType == "Add" && n.Inputs.All(i => !i!.IsInitializer)));   // the inverted block's residual (stride 1, 8 → 8) and the residual block's
        var depthwise = model.Graph.Nodes.Where(n => n.OpType == "Conv" && n.GetInt("group", 1) > 1).ToList();
        Assert.Equal(2, depthwise.Count);   // the inverted block's and the depthwise block's
        Assert.Equal("float32[N,4]", model.Graph.Outputs[0].TypeString);
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "stages:\n  - channels: [4]\n    activation: [relu, swish]\n", "(space):3: stages[0].activation[1]: must be one of relu, relu6, hardswish, gelu, sigmoid, tanh, not 'swish'" },
        { "stages:\n  - channels: [4]\n    block: [conv, mbconv]\n", "(space):3: stages[0].block[1]: must be one of conv, depthwise, inverted, residual, not 'mbconv'" },
        { "stages:\n  - channels: [4]\n    chanels: [8]\n", "(space):3: stages[0].chanels: unknown key" },
        { "kind: cnn\nstages: []\n", "(space):2: stages: is empty: the space holds no network" },
        { "", "(space):1: (file): is empty" },
        { "stages:\n  - channels: []\n", "(space):2: stages[0].channels: is empty; give at least one value" },
        { "stages:\n  - channels: [4, 4]\n", "(space):2: stages[0].channels: lists 4 twice" },
        { "stages:\n  - { channels: [4], kernel: [3, 4] }\n", "(space):2: stages[0].kernel: holds 4; kernels are odd" },
        { "stages:\n  - { channels: [4], expansion: [2] }\n", "(space):2: stages[0].expansion: is given but the stage has no inverted block" },
        { "kind: mlp\n", "(space):1: kind: is mlp and the file has no mlp section" },
        { "kind: transformer\n", "(space):1: kind: must be one of cnn, mlp, not 'transformer'" },
        { "stages:\n  - { channels: [4]\n", "(space):" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_file_is_one_line_naming_the_line_and_the_key(string text, string expected)
    {
        var e = Assert.Throws<ArchitectureSpaceException>(() => ArchitectureSpace.Parse(text));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_space_that_can_shrink_the_image_to_nothing_is_refused_before_any_search_with_the_reason()
    {
        var space = ArchitectureSpace.Parse("stages:\n  - { channels: [4], stride: [2], pool: [max] }\n  - { channels: [4], stride: [1, 4], pool: [none, max] }\n  - { channels: [4], stride: [2], pool: [max] }\n");
        var e = Assert.Throws<ArchitectureSpaceException>(() => space.Check([1, 28, 28], 10));
        Assert.Equal("(space):4: stages[2]: can shrink the 28×28 input to 0×0 (every stage at its largest stride, then pooled), which no layer can take; lower a stride, drop a pooling or a stage", e.Message);
        space.Check([1, 128, 128], 10);   // a larger image goes through
        var vectors = Assert.Throws<ArchitectureSpaceException>(() => space.Check([784], 10));
        Assert.Contains("needs image samples (channels × height × width), and the data's samples are [784]; use an mlp space", vectors.Message);
    }

    [Fact]
    public void Constraints_and_goals_are_read_from_text_and_contradictions_refused()
    {
        Assert.Equal(new Constraint("params", Bound.AtMost, 100_000), ArchitectureMetrics.ParseConstraint("params < 100k"));
        Assert.Equal(new Constraint("macs", Bound.AtMost, 5e6), ArchitectureMetrics.ParseConstraint("macs<=5M"));
        Assert.Equal(new Constraint("latency_b1_ms", Bound.AtMost, 0.3), ArchitectureMetrics.ParseConstraint("latency_b1_ms < 0.3"));
        Assert.Equal(new Constraint("accuracy", Bound.AtLeast, 85), ArchitectureMetrics.ParseConstraint("accuracy > 85"));
        Assert.Equal(new Goal("latency_b1_ms", Direction.Minimize), ArchitectureMetrics.ParseGoal("latency_b1"));
        Assert.Equal(new Goal("accuracy", Direction.Maximize), ArchitectureMetrics.ParseGoal("accuracy"));
        Assert.Equal("Constraints", Assert.Throws<OptionsException>(() => ArchitectureMetrics.ParseConstraint("params about 5")).Option);
        Assert.Contains("'flops', which is not a metric", Assert.Throws<OptionsException>(() => ArchitectureMetrics.ParseGoal("flops")).Message);
        var e = Assert.Throws<OptionsException>(() => ArchitectureMetrics.CheckConsistent(
            [ArchitectureMetrics.ParseConstraint("params < 10"), ArchitectureMetrics.ParseConstraint("params > 100")]));
        Assert.Equal("Constraints", e.Option);
        Assert.Contains("params < 10 and params > 100, which no candidate can meet", e.Message);
        ArchitectureMetrics.CheckConsistent([ArchitectureMetrics.ParseConstraint("params > 10"), ArchitectureMetrics.ParseConstraint("params < 100")]);
    }
}
