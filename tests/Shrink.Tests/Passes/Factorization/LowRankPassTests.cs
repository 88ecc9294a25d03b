using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Runtime;
using Shrink.Tests.Cli;
using Shrink.Tests.Data;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Factorization;

/// <summary>Low-rank factorization: exact on low-rank weights, energy and ratio ranks, and the command.</summary>
[Collection("torch")] // one test fine-tunes: it must not move the generator under the bit-exact resume tests
public class LowRankPassTests
{
    /// <summary>Sets a weight to a product of random [m, r] and [r, n] factors (rank r).</summary>
    private static void MakeLowRank(Value weight, int m, int n, int r, Func<int, int, long> index, int seed)
    {
        var random = new Random(seed);
        var a = Enumerable.Range(0, m * r).Select(_ => random.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, r * n).Select(_ => random.NextDouble() - 0.5).ToArray();
        var values = new float[m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
                values[index(i, j)] = (float)Enumerable.Range(0, r).Sum(k => a[i * r + k] * b[k * n + j]);
        weight.Const = Tensor.FromFloats(weight.Name, weight.Const!.Dims, values);
    }

    private static void AssertSameOutputs(Model a, Model b, double tolerance)
    {
        using var ra = OnnxRunner.FromModel(a);
        using var rb = OnnxRunner.FromModel(b);
        var inputs = ra.RandomInputs(8, seed: 5);
        var x = (float[])ra.Run(inputs)[0].Data;
        var y = (float[])rb.Run(inputs)[0].Data;
        var scale = x.Max(Math.Abs);
        var worst = x.Zip(y).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst < tolerance, $"largest difference {worst:E2} of the output scale");
    }

    [Fact]
    public void LowRankWeightsAreFactorizedExactly()
    {
        // lenet5's gemm1 [500, 800] (transB) at rank 6 and conv2 [50, 20, 5, 5] at rank 4.
        var model = ModelZoo.Create("lenet5", seed: 1);
        var gemm = model.Graph.FindNode("gemm1")!;
        MakeLowRank(gemm.Inputs[1]!, 800, 500, 6, (i, j) => (long)j * 800 + i, 1); // stored [N, K]: element (k, n) at n·K + k
        var conv = model.Graph.FindNode("conv2")!;
        MakeLowRank(conv.Inputs[1]!, 50, 500, 4, (i, j) => (long)i * 500 + j, 2);
        var pass = new LowRankPass(new LowRankOptions { Energy = 0.999999, Layers = new HashSet<string> { "gemm1", "conv2" } });
        var run = new PassPipeline(pass) { VerifyEach = true }.Run(model, new PassContext());
        var factorized = run.Model;
        Assert.Equal(new LayerRank(6, 500), run.Artifact<FactorizationRanks>()!.Layers["gemm1"]);
        Assert.Equal(new LayerRank(4, 50), run.Artifact<FactorizationRanks>()!.Layers["conv2"]);
        Assert.Equal(3, factorized.Graph.Nodes.Count(n => n.OpType == "Conv")); // conv1, and conv2 as two
        Assert.Equal(3, factorized.Graph.Nodes.Count(n => n.OpType == "Gemm"));
        var pointwise = factorized.Graph.Nodes.Where(n => n.OpType == "Conv").Single(n => n.Inputs[1]!.Const!.Dims[2] == 1);
        Assert.Equal(new long[] { 50, 4, 1, 1 }, pointwise.Inputs[1]!.Const!.Dims);
        AssertSameOutputs(model, factorized, 1e-4);
        Assert.Equal(model.Graph.Outputs[0].Name, factorized.Graph.Outputs[0].Name);
    }

    [Fact]
    public void RatioAndEnergyChooseRanksAndUselessCutsAreSkipped()
    {
        var model = ModelZoo.Create("lenet300", seed: 1);
        var byRatio = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.25 });
        var context = new PassContext();
        var result = byRatio.Run(model, context);
        // gemm1 [784 → 300]: ⌊0.25·784·300/1084⌋ = 54.
        Assert.Equal(54, result.Artifact<FactorizationRanks>()!.Layers["gemm1"].Rank);
        Assert.InRange((double)result.Stats["parameters-after"] / result.Stats["parameters-before"], 0.2, 0.26);
        // A random weight spreads its energy: 0.5 of it needs far fewer than the full rank, 1.0 the full rank, which saves nothing.
        var low = new LowRankPass(new LowRankOptions { Energy = 0.5 });
        Assert.InRange(low.Run(model, new PassContext()).Artifact<FactorizationRanks>()!.Layers["gemm1"].Rank, 20, 200);
        var all = new LowRankPass(new LowRankOptions { Energy = 1.0 });
        var notes = new PassContext();
        Assert.False(all.Run(model, notes).Modified);
        Assert.Contains(notes.Notes, n => n.Contains("would not make it smaller"));
    }

    [Fact]
    public void CommandReportsAndRejectsBadOptions()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var r = CliRunner.Run("factorize", dir.File("m.onnx"), "--ratio", "0.3", "--finetune-epochs", "1", "--data", "embedded", "--bench-batch", "none",
            "--out", dir.File("f.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("after").GetProperty("parameters").GetInt64() < doc.RootElement.GetProperty("before").GetProperty("parameters").GetInt64() / 2);
        Assert.Equal(2, doc.RootElement.GetProperty("layers").GetArrayLength()); // gemm3, the classifier, is left alone
        Assert.Contains(doc.RootElement.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("'gemm3' left alone: it produces a graph output"));
        string[] Args(params string[] extra) => new[] { "factorize", dir.File("m.onnx"), "--out", dir.File("bad.onnx") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "1.5")), "--energy must be in (0, 1]");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "0.9", "--ratio", "0.5")), "give one of --energy and --ratio");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--layers", "nosuch")), "'nosuch', not a layer");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "1")), "no layer was factorized");
        Assert.False(File.Exists(dir.File("bad.onnx")));
    }

    /// <summary>--save-recipe writes factorize as a one-stage recipe; running it makes the same model, bit for bit, with its fine-tuning.</summary>
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new[] { "factorize", model, "--ratio", "0.5", "--data", "embedded", "--finetune-epochs", "1", "--bench-batch", "none", "--out", dir.File("f.onnx") };
        var dry = CliRunner.Run(args.Append("--dry-run").ToArray());
        Assert.True(dry.ExitCode == 0, dry.Err);
        Assert.Contains("factorize", dry.Out + dry.Err);
        CliRunner.AssertRecipeReplays(dir, args, dir.File("f.onnx"), "factorize");
    }
}
