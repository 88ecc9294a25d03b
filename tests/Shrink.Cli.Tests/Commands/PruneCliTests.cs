using Shrink.Data;
using System.Text.Json;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

[Collection("torch")]
public class PruneCliTests
{
    [Fact]
    public void DataFreePruningReportsSparsityAndSaysItIsNotFaster()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        var before = File.ReadAllBytes(model);
        var r = CliRunner.Run("prune", model, "--sparsity", "0.9", "--scope", "global", "--bench-batch", "1", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal(before, File.ReadAllBytes(model));
        using var doc = JsonDocument.Parse(r.Out);
        var after = doc.RootElement.GetProperty("after");
        Assert.InRange(after.GetProperty("sparsity").GetDouble(), 0.89, 0.90); // biases are not pruned
        Assert.False(after.TryGetProperty("accuracy", out _));
        Assert.True(after.GetProperty("gzipBytes").GetInt64() < doc.RootElement.GetProperty("before").GetProperty("gzipBytes").GetInt64() / 3);
        Assert.Contains("not faster", doc.RootElement.GetProperty("fasterNote").GetString());
        var inspect = CliRunner.Run("inspect", dir.File("p.onnx"));
        Assert.Contains("(sparsity 89.", inspect.Out);
    }

    /// <summary>
    /// A model with external data is pruned into external data (the weights of a big model are neither held nor written in one
    /// message): the result loads in ONNX Runtime, holds the zeros the inline result holds, and its gzip size counts the data file.
    /// </summary>
    [Fact]
    public void AnInputWithExternalData_IsWrittenWithExternalData_ThatOnnxRuntimeLoads_WithTheSameZeros()
    {
        using var dir = new TempDirectory();
        var inline = CliRunner.Zoo(dir, "lenet300");
        Assert.Equal(0, CliRunner.Run("convert", inline, "--out", dir.File("m.onnx"), "--external-data").ExitCode);

        var r = CliRunner.Run("prune", dir.File("m.onnx"), "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        var fromInline = CliRunner.Run("prune", inline, "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("q.onnx"));

        Assert.True(r.ExitCode == 0, r.Err);
        Assert.True(fromInline.ExitCode == 0, fromInline.Err);
        var data = Shrink.Onnx.ExternalDataFiles.Referenced(dir.File("p.onnx")).Single();
        Assert.True(new FileInfo(dir.File("p.onnx")).Length < 16 << 10, "the weights are in the data file");
        Assert.Empty(Shrink.Onnx.ExternalDataFiles.Referenced(dir.File("q.onnx")));  // an inline input stays inline
        var external = Shrink.Onnx.OnnxReader.Read(dir.File("p.onnx"));
        var expected = Shrink.Onnx.OnnxReader.Read(dir.File("q.onnx"));
        Assert.All(expected.Graph.Initializers, v => Assert.Equal(v.Const!.Bytes.ToArray(), external.Graph.FindInitializer(v.Name)!.Const!.Bytes.ToArray()));
        using (var session = Shrink.Runtime.OnnxRunner.Load(dir.File("p.onnx")))
        using (var reference = Shrink.Runtime.OnnxRunner.Load(dir.File("q.onnx")))
        {
            var input = session.RandomInputs(4, seed: 1);
            Assert.Equal((float[])reference.Run(input)[0].Data, (float[])session.Run(input)[0].Data);
        }
        using var doc = JsonDocument.Parse(r.Out);
        var (before, after) = (doc.RootElement.GetProperty("before"), doc.RootElement.GetProperty("after"));
        Assert.InRange(after.GetProperty("sparsity").GetDouble(), 0.49, 0.50);
        Assert.True(after.GetProperty("bytes").GetInt64() >= new FileInfo(data).Length);
        // Both sides count their data files: random weights hardly compress, half of them zeroed do.
        Assert.True(before.GetProperty("gzipBytes").GetInt64() > before.GetProperty("bytes").GetInt64() / 2);
        Assert.True(after.GetProperty("gzipBytes").GetInt64() < before.GetProperty("gzipBytes").GetInt64() * 0.8);
    }

    [Fact]
    public void FineTuningKeepsThePrunedWeightsAtZero()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var pruneOnly = CliRunner.Run("prune", model, "--sparsity", "0.8", "--bench-batch", "none", "--out", dir.File("a.onnx"), "--json");
        var tuned = CliRunner.Run("prune", model, "--sparsity", "0.8", "--data", "embedded", "--finetune-epochs", "2", "--lr", "0.1", "--bench-batch", "none",
            "--out", dir.File("b.onnx"), "--json");
        Assert.True(tuned.ExitCode == 0, tuned.Err);
        long NonZero(string json) => JsonDocument.Parse(json).RootElement.GetProperty("after").GetProperty("nonZero").GetInt64();
        // The same weights are pruned; fine-tuning moves the kept ones and may not revive any pruned one.
        Assert.True(NonZero(tuned.Out) <= NonZero(pruneOnly.Out));
        var a = PrunableWeights.Find(Shrink.Onnx.OnnxReader.Read(dir.File("a.onnx")));
        var b = PrunableWeights.Find(Shrink.Onnx.OnnxReader.Read(dir.File("b.onnx")));
        for (var l = 0; l < a.Count; l++)
        {
            var x = a[l].Tensor.AsFloats().ToArray();
            var y = b[l].Tensor.AsFloats().ToArray();
            var pruned = Enumerable.Range(0, x.Length).Where(i => x[i] == 0).ToList();
            Assert.NotEmpty(pruned);
            Assert.All(pruned, i => Assert.Equal(0f, y[i]));
        }
        var accuracy = JsonDocument.Parse(tuned.Out).RootElement.GetProperty("after").GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0.4, 1.0); // the untrained model scores about 0.06; chance is 0.10
    }

    [Theory]
    [InlineData("--sparsity", "1", "must be in [0, 1)")]
    [InlineData("--sparsity", "-0.5", "must be in [0, 1)")]
    [InlineData("--method", "taylor-x", "unknown unstructured method 'taylor-x'")]
    [InlineData("--finetune-epochs", "2", "--finetune-epochs needs --data")]
    [InlineData("--steps", "0", "--steps must be at least 1")]
    public void BadOptionsGetOneLineAndWriteNothing(string option, string value, string expected)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new List<string> { "prune", model, "--sparsity", "0.5", "--out", dir.File("p.onnx") };
        var at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange(new[] { option, value });
        if (option == "--steps") args.AddRange(new[] { "--schedule", "iterative" });
        CliRunner.AssertBadInput(CliRunner.Run(args.ToArray()), expected);
        Assert.False(File.Exists(dir.File("p.onnx")));
    }

    /// <summary>Errors the library finds name an options property; the command prints the flag that set it.</summary>
    [Theory]
    [InlineData(new[] { "--method", "4:4" }, "error: --method 4:4: N:M needs 1 ≤ N < M ≤ 64, e.g. 2:4")]
    [InlineData(new[] { "--method", "2:4", "--schedule", "iterative" }, "error: --method 2:4 prunes to a fixed pattern; use the oneshot schedule")]
    [InlineData(new[] { "--method", "l1-filter", "--sparsity", "0.5", "--channel-multiple", "0" }, "error: --channel-multiple must be in [1, 256], got 0")]
    [InlineData(new[] { "--method", "l1-filter", "--sparsity", "0.5", "--scope", "global" },
        "error: --scope global ranks channels of all layers against one threshold, which needs comparable scores: use it with bn-scale or slim, not l1-filter")]
    [InlineData(new[] { "--sparsity", "0.5", "--schedule", "agp", "--method", "random", "--data", "embedded", "--finetune-epochs", "1" },
        "error: --method random is not available with the agp schedule, which prunes by magnitude as it trains")]
    [InlineData(new[] { "--sparsity", "0.5", "--schedule", "iterative", "--steps", "0" }, "error: --steps must be at least 1, got 0")]
    public void LibraryErrorsArePrintedWithTheFlag(string[] extra, string expected)
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run(new[] { "prune", CliRunner.Zoo(dir, "lenet5"), "--out", dir.File("p.onnx") }.Concat(extra).ToArray());
        CliRunner.AssertBadInput(r, expected);
        Assert.Equal(expected, r.Err.Trim());
        Assert.False(File.Exists(dir.File("p.onnx")));
    }

    [Fact]
    public void TablesNotesAndVerdictsAreRenderedAsText()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        var weights = CliRunner.Run("prune", model, "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("u.onnx"));
        Assert.True(weights.ExitCode == 0, weights.Err);
        Assert.Contains("non-zero", weights.Out);
        Assert.Contains($"wrote {dir.File("u.onnx")}: magnitude pruning, 4", weights.Out); // about half of the parameters, biases not pruned
        Assert.Contains("of the parameters are zero", weights.Out);
        Assert.Contains("not faster: unstructured sparsity keeps every layer's shape", weights.Out);
        var channels = CliRunner.Run("prune", model, "--method", "l1-filter", "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("s.onnx"));
        Assert.True(channels.ExitCode == 0, channels.Err);
        Assert.Contains("note: left alone: gemm2: 'output' is a graph output", channels.Out);
        Assert.Contains("l1-filter pruning removed channels:", channels.Out);
        Assert.Contains("latency not measured (--bench-batch none)", channels.Out);
    }

    /// <summary>Groups left alone for one reason share one line (count, reason, a few of them); --verbosity detailed gives each its own.</summary>
    [Fact]
    public void VerbositySaysHowMuchTheNotesList()
    {
        using var dir = new TempDirectory();
        var model = TestModels.TorchPath("transformer_tiny");
        var normal = CliRunner.Run("prune", model, "--method", "l1-filter", "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("n.onnx"));
        CliRunner.AssertBadInput(normal, "no channel group could be pruned");
        Assert.Contains("left alone: 4 groups: the weights of '…' are shared with other nodes (e.g. ", normal.Err);
        Assert.Contains("each one with --verbosity detailed", normal.Err);
        Assert.Contains("kept tied: 4 weights that several layers read", normal.Err);
        var detailed = CliRunner.Run("prune", model, "--method", "l1-filter", "--sparsity", "0.5", "--bench-batch", "none", "--verbosity", "detailed", "--out", dir.File("d.onnx"));
        CliRunner.AssertBadInput(detailed, "no channel group could be pruned");
        // The one error line keeps its start and its end: the first weight kept tied and the last group left alone, each named.
        Assert.Contains("kept tied: 'encoder.layers.0.self_attn.out_proj.weight' (the weight of", detailed.Err);
        Assert.EndsWith("left alone: /fc/Gemm: 'output' is a graph output", detailed.Err.Trim());
        Assert.DoesNotContain("each one with", detailed.Err);
        Assert.False(File.Exists(dir.File("n.onnx")) || File.Exists(dir.File("d.onnx")));
    }

    /// <summary>--save-recipe writes the command as a one-stage recipe of the prune technique; running it makes the same model, bit for bit.</summary>
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        var args = new[] { "prune", model, "--method", "l2-filter", "--sparsity", "0.5", "--channel-multiple", "4", "--data", "embedded", "--finetune-epochs", "1",
            "--bench-batch", "none", "--out", dir.File("p.onnx") };
        var saved = CliRunner.Run(args.Append("--save-recipe").Append(dir.File("r.yaml")).ToArray());
        Assert.True(saved.ExitCode == 0, saved.Err);
        Assert.False(File.Exists(dir.File("p.onnx")));
        var yaml = File.ReadAllText(dir.File("r.yaml"));
        Assert.Contains("technique: prune", yaml);
        Assert.Contains("method: l2-filter", yaml);
        Assert.Equal(0, CliRunner.Run(args).ExitCode);
        var replay = CliRunner.Run("recipe", "run", dir.File("r.yaml"), "--out", dir.File("run"));
        Assert.True(replay.ExitCode == 0, replay.Err);
        Assert.Equal(File.ReadAllBytes(dir.File("p.onnx")), File.ReadAllBytes(dir.File("run/01-prune.onnx")));
    }

    [Fact]
    public void RandomPruningIsTheSameInEveryProcess()
    {
        // string.GetHashCode and HashCode are seeded per process: the masks must not depend on them.
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Shrink.Cli.exe" : "Shrink.Cli");
        foreach (var name in new[] { "a.onnx", "b.onnx" })
        {
            var psi = new System.Diagnostics.ProcessStartInfo(cli) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in new[] { "prune", model, "--method", "random", "--sparsity", "0.5", "--seed", "3", "--bench-batch", "none", "--out", dir.File(name) })
                psi.ArgumentList.Add(arg);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, err.Result);
        }
        Assert.Equal(File.ReadAllBytes(dir.File("a.onnx")), File.ReadAllBytes(dir.File("b.onnx")));
        var inProcess = new UnstructuredPrunePass(new UnstructuredPruneOptions { Method = PruneMethod.Random, Sparsity = 0.5, Seed = 3 })
            .Run(Shrink.Onnx.OnnxReader.Read(model), new Shrink.Passes.PassContext()).Model;
        Assert.Equal(PrunableWeights.Find(inProcess).Select(w => w.Tensor.AsFloats().ToArray()),
            PrunableWeights.Find(Shrink.Onnx.OnnxReader.Read(dir.File("a.onnx"))).Select(w => w.Tensor.AsFloats().ToArray()));
    }

    [Fact]
    public void AModelWithNothingPrunableIsRefused()
    {
        using var dir = new TempDirectory();
        var b = new Shrink.Builder.NetworkBuilder("flat", 0);
        b.Output(b.Relu(b.Input("input", 4)), "output");
        Shrink.Runtime.ModelSaver.Save(b.Build(), dir.File("flat.onnx"));
        CliRunner.AssertBadInput(CliRunner.Run("prune", dir.File("flat.onnx"), "--sparsity", "0.5", "--out", dir.File("p.onnx")), "nothing prunable");
        Assert.False(File.Exists(dir.File("p.onnx")));
    }

    [Fact]
    public void MissingAndMalformedLayerConfigsAreRefused()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("layers.json"), "{\"fc9\": 0.5}");
        CliRunner.AssertBadInput(CliRunner.Run("prune", CliRunner.Zoo(dir, "lenet300"), "--layers", dir.File("layers.json"), "--out", dir.File("p.onnx")),
            "'fc9', which is not a prunable layer");
        File.WriteAllText(dir.File("bad.json"), "[1, 2]");
        CliRunner.AssertBadInput(CliRunner.Run("prune", CliRunner.Zoo(dir, "lenet300"), "--layers", dir.File("bad.json"), "--out", dir.File("p.onnx")),
            "is not a JSON object");
        Assert.False(File.Exists(dir.File("p.onnx")));
    }
}

[Collection("torch")]
public class TaylorSaliencyTests
{

    [Fact]
    public void TaylorWithoutDataIsRefused()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("prune", model, "--method", "taylor", "--sparsity", "0.5", "--out", dir.File("p.onnx")), "give --data");
        Assert.Equal("taylor measures |w·∂L/∂w| on data: give the measured scores", new UnstructuredPrunePass(new UnstructuredPruneOptions { Method = PruneMethod.Taylor, Sparsity = 0.5 })
            .CheckPreconditions(Shrink.Zoo.ModelZoo.Create("lenet300")));
    }
}

[Collection("torch")]
public class AgpTests
{

    [Fact]
    public void AgpNeedsDataAndEpochs()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("prune", model, "--sparsity", "0.5", "--schedule", "agp", "--out", dir.File("p.onnx")), "--schedule agp prunes while training");
        CliRunner.AssertBadInput(CliRunner.Run("prune", model, "--sparsity", "0.5", "--schedule", "agp", "--method", "random", "--data", "embedded",
            "--finetune-epochs", "1", "--out", dir.File("p.onnx")), "--method random is not available");
        Assert.False(File.Exists(dir.File("p.onnx")));
    }
}

[Collection("torch")]
public class StructuredPruneCliTests
{
    [Fact]
    public void StructuredPruningCutsChannelsAndMeasuresLatency()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "vgg-small", "m.onnx");
        var r = CliRunner.Run("prune", model, "--method", "fpgm", "--sparsity", "0.5", "--bench-batch", "1", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("structural").GetBoolean());
        var before = root.GetProperty("before");
        var after = root.GetProperty("after");
        Assert.True(after.GetProperty("macs").GetInt64() < before.GetProperty("macs").GetInt64() / 3);
        Assert.True(after.GetProperty("bytes").GetInt64() < before.GetProperty("bytes").GetInt64() / 3);
        Assert.Contains(root.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("graph output"));
        Assert.Single(root.GetProperty("speedups").EnumerateArray());
        Assert.Equal(0, CliRunner.Run("eval", dir.File("p.onnx"), "--data", "embedded", "--limit", "50").ExitCode);
    }

    [Fact]
    public void FineTunesTheSmallerModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("prune", model, "--method", "l1-filter", "--sparsity", "0.5", "--data", "embedded", "--finetune-epochs", "1",
            "--lr", "0.05", "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        var after = JsonDocument.Parse(r.Out).RootElement.GetProperty("after");
        Assert.InRange(after.GetProperty("accuracy").GetDouble(), 0.3, 1.0);
    }

    [Theory]
    [InlineData(new[] { "--schedule", "agp" }, "runs oneshot or iterative")]
    [InlineData(new[] { "--schedule", "iterative" }, "fine-tunes after every round")]
    [InlineData(new[] { "--scope", "global" }, "bn-scale or slim")]
    [InlineData(new[] { "--method", "apoz" }, "give --data")]
    [InlineData(new[] { "--method", "slim", "--data", "embedded" }, "--slim-epochs")]
    [InlineData(new[] { "--slim-epochs", "2" }, "belongs to --method slim")]
    [InlineData(new[] { "--method", "entropy", "--data", "embedded", "--score-samples", "0" }, "--score-samples must be at least 1")]
    [InlineData(new[] { "--sparsity", "1.2" }, "must be in [0, 1)")]
    public void BadStructuredOptionsWriteNothing(string[] extra, string expected)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var args = new List<string> { "prune", model, "--out", dir.File("p.onnx") };
        if (!extra.Contains("--method")) args.AddRange(new[] { "--method", "l2-filter" });
        if (extra[0] != "--sparsity") args.AddRange(new[] { "--sparsity", "0.5" });
        args.AddRange(extra);
        CliRunner.AssertBadInput(CliRunner.Run(args.ToArray()), expected);
        Assert.False(File.Exists(dir.File("p.onnx")));
    }

    [Fact]
    public void IterativeScheduleCutsInRoundsToTheTarget()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("prune", model, "--method", "l2-filter", "--sparsity", "0.5", "--schedule", "iterative", "--steps", "2",
            "--channel-multiple", "1", "--data", "embedded", "--finetune-epochs", "1", "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("round 1/2 fine-tune epoch 1/1", r.Err);
        Assert.Contains("round 2/2 fine-tune epoch 1/1", r.Err);
        // Round 1 cuts 0.5·(1 − 0.5³) ≈ 44 %, round 2 the rest: conv1 keeps 10 of 20 filters, conv2 25 of 50, gemm1 250 of 500.
        var pruned = Shrink.Onnx.OnnxReader.Read(dir.File("p.onnx"));
        Assert.Equal(new long[] { 10, 25, 250 }, new[] { "conv1.weight", "conv2.weight", "gemm1.weight" }
            .Select(n => pruned.Graph.FindInitializer(n)!.Const!.Dims[0]).ToArray());
    }

    [Fact]
    public void AModelWhoseGroupsAreAllBlockedIsRefused()
    {
        using var dir = new TempDirectory();
        var b = new Shrink.Builder.NetworkBuilder("one", 0);
        b.Output(b.Linear(b.Input("input", 8), 4), "output");
        Shrink.Runtime.ModelSaver.Save(b.Build(), dir.File("m.onnx"));
        CliRunner.AssertBadInput(CliRunner.Run("prune", dir.File("m.onnx"), "--method", "l1-filter", "--sparsity", "0.5", "--out", dir.File("p.onnx")),
            "no channel group could be pruned");
        Assert.False(File.Exists(dir.File("p.onnx")));
    }
}

/// <summary>The data-driven channel criteria from the command line: slim (sparsity training).</summary>
[Collection("torch")]
public class ChannelCriteriaTests
{

    [Fact]
    public void SlimTrainsGammaTowardsZeroAndCutsByIt()
    {
        using var dir = new TempDirectory();
        var b = new Shrink.Builder.NetworkBuilder("bn", seed: 1);
        var x = b.Input("input", 1, 28, 28);
        var c = b.Relu(b.BatchNorm(b.Conv(x, 8, 5, stride: 2, bias: false)));
        b.Output(b.Linear(b.Flatten(b.MaxPool(c, 2, 2)), 10));
        Shrink.Runtime.ModelSaver.Save(b.Build(), dir.File("m.onnx"));
        var r = CliRunner.Run("prune", dir.File("m.onnx"), "--method", "slim", "--slim-epochs", "1", "--slim-penalty", "0.2", "--lr", "0.1", "--sparsity", "0.5",
            "--channel-multiple", "1", "--data", "embedded", "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("slim sparsity training epoch 1/1", r.Err);
        var pruned = Shrink.Onnx.OnnxReader.Read(dir.File("p.onnx"));
        Assert.Equal(4, pruned.Graph.FindInitializer("conv1.weight")!.Const!.Dims[0]);
        // Without the penalty γ starts at 1; with it the mean |γ| kept is well below.
        var gamma = pruned.Graph.Nodes.Single(n => n.OpType == "BatchNormalization").Inputs[1]!.Const!.AsFloats().ToArray();
        Assert.True(gamma.Average(Math.Abs) < 0.9, string.Join(", ", gamma));
    }
}
