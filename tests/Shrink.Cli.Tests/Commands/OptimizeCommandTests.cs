using System.Text.Json;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink optimize</c>: a tiny run end to end (JSON result, files, recipe replay, resume refusals) and every bad input.</summary>
[Collection("torch")] // trials fine-tune: they must not move the generator under the bit-exact resume tests
public class OptimizeCommandTests
{
    private static string[] Args(TempDirectory dir, params string[] extra) =>
        new[] { "optimize", dir.File("m.onnx"), "--data", "embedded", "--max-epochs", "1", "--limit", "128", "--latency-batch", "1", "--out", dir.File("run") }
            .Concat(extra).ToArray();

    [Fact]
    public void A_tiny_run_writes_its_best_model_and_recipe_and_a_resume_must_keep_the_options()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run(Args(dir, "--max-accuracy-drop", "100", "--budget", "2", "--strategy", "random", "--json"));
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("met").GetBoolean());
        Assert.Equal(2, doc.RootElement.GetProperty("trials").GetArrayLength());
        Assert.Equal(2, r.Err.Split('\n').Count(l => l.StartsWith("trial ", StringComparison.Ordinal)));   // a plain line per trial off a terminal
        foreach (var file in new[] { "best.onnx", "best.recipe.yaml", "pareto.json", "result.json", "report.html", "report.json", "trials.db", "options.json" })
            Assert.True(File.Exists(dir.File($"run/{file}")), file);

        var replay = CliRunner.Run("recipe", "run", dir.File("run/best.recipe.yaml"), "--out", dir.File("replay"));
        Assert.True(replay.ExitCode == 0, replay.Err);
        var last = Directory.GetFiles(dir.File("replay"), "*.onnx").Order(StringComparer.Ordinal).Last();
        Assert.Equal(File.ReadAllBytes(dir.File("run/best.onnx")), File.ReadAllBytes(last));

        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "100", "--budget", "3", "--strategy", "random", "--goal", "latency", "--resume")),
            "--goal differs from the run being continued (Size there, Latency now)");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "100", "--budget", "3")), "is not empty; continue the run there with --resume");
    }

    [Fact]
    public void A_budget_no_trial_meets_is_exit_code_3_with_the_closest_attempt_kept_and_the_miss_stated()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet5", "m.onnx");
        // Only an unchanged model agrees with the original on every sample; the one trial is static int8.
        var r = CliRunner.Run(Args(dir, "--min-fidelity", "1", "--strict", "--trials", "1"));
        Assert.True(r.ExitCode == 3, r.Err);
        Assert.Contains("misses the budget: fidelity 0.", r.Out);
        Assert.Contains("the closest attempt is kept in", r.Out);
        Assert.Contains("final re-evaluation on 1000 samples: fidelity", r.Out);
        Assert.True(File.Exists(dir.File("run/best.onnx")));
    }

    [Fact]
    public void Bad_input_is_one_line_and_exit_code_2_with_nothing_written()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet5", "m.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("optimize", dir.File("m.onnx"), "--max-accuracy-drop", "1", "--trials", "2", "--out", dir.File("run")), "optimize needs --data");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--min-fidelity", "0.9", "--trials", "2")), "--min-fidelity and the maximum accuracy drop are both given");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--trials", "2")), "--max-accuracy-drop is needed (or a minimum fidelity)");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--budget", "2x")), "--budget '2x' is neither a time nor a number of trials");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1")), "--trials and the wall time are both unset");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--trials", "2", "--workers", "0")), "--workers must be at least 1, got 0");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--trials", "2", "--resume")), "there is no optimize run to continue in");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--strategy", "halving", "--trials", "6")),
            "--trials must be at least 15 with successive halving, got 6: the 2 starting trials, then 9 at budget 1/9, 3 at budget 1/3 and 1 at the full budget");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--strategy", "halving", "--budget", "4", "--halving-eta", "2", "--halving-rungs", "3")),
            "--trials must be at least 9 with successive halving, got 4");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--strategy", "halving", "--trials", "20", "--halving-eta", "1")), "--halving-eta must be in [2, 10]");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--strategy", "halving", "--trials", "20", "--halving-rungs", "9")), "--halving-rungs must be in [2, 5]");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--trials", "2", "--techniques", "quantize,magic")),
            "--techniques names 'magic', which is not a technique of the space; choose from unstructured, structured, factorize, quantize, cluster, merge, half");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--trials", "2", "--max-part-bytes", "lots")), "--max-part-bytes 'lots' is not a size");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--max-accuracy-drop", "1", "--trials", "2", "--goal", "latency", "--techniques", "cluster")),
            "--techniques holds only cluster, which is searched for the size goal alone");
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void Half_precision_storage_prints_its_fidelity_check_and_the_chosen_model_is_split_for_deployment()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet5", "m.onnx");
        // float16 and bfloat16 storage (nothing else, so nothing to fine-tune): 862 KB of weights, cut under 820 KiB in two parts.
        var r = CliRunner.Run(Args(dir, "--max-accuracy-drop", "100", "--trials", "3", "--techniques", "half", "--max-part-bytes", "820KiB"));
        Assert.True(r.ExitCode == 0, r.Err);
        var trials = r.Err.Split('\n').Where(l => l.StartsWith("trial ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, trials.Count);   // fp16 and bf16; the unchanged model is never proposed, so the space is used up
        Assert.All(trials, l => Assert.Matches(@"(fp16|bf16) storage, 0 epochs \| 842\.0 KiB, .*outputs vs original: cosine 1\.0000, SQNR \d+\.\d dB, max \|error\|", l));
        Assert.Contains("(exhausted)", r.Out);
        Assert.Contains("split for deployment: 2 parts", r.Out);
        Assert.Contains("the parts' outputs equal best.onnx's bit for bit", r.Out);
        Assert.True(File.Exists(dir.File("run/best.parts/manifest.json")));

        // A bound under the largest layer: the search's results stand, nothing is split, and the line names the flag.
        var small = CliRunner.Run(Args(dir, "--max-accuracy-drop", "100", "--trials", "1", "--techniques", "half", "--max-part-bytes", "100KB").Select(a => a == dir.File("run") ? dir.File("small") : a).ToArray());
        Assert.True(small.ExitCode == 0, small.Err);
        Assert.Contains("not split: --max-part-bytes is 100000 bytes, smaller than layer", small.Out);
        Assert.False(Directory.Exists(dir.File("small/best.parts")));
    }

    [Theory]
    [InlineData("2h", null, 7200.0)]
    [InlineData("30m", null, 1800.0)]
    [InlineData("90s", null, 90.0)]
    [InlineData("1h30m", null, 5400.0)]
    [InlineData("20", 20, null)]
    public void A_budget_is_a_time_or_a_number_of_trials(string text, int? trials, double? seconds)
    {
        var (n, wall) = OptimizeCli.ParseBudget(text);
        Assert.Equal(trials, n);
        Assert.Equal(seconds, wall?.TotalSeconds);
    }
}
