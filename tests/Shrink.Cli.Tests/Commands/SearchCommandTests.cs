using System.Text.Json;
using Shrink.Builder;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink search</c>: a tiny run end to end (progress lines, the front, JSON, files, resume refusals) and every bad input (exit 2, one line, nothing written).</summary>
[Collection("torch")] // trials train: they must not move the generator under the bit-exact resume tests
public class SearchCommandTests
{
    private const string Tiny = "stages:\n  - { block: [conv, depthwise], channels: [4, 8], stride: [2], activation: [relu, relu6] }\nhead: { classifier: [0, 16] }\n";

    private static string[] Args(TempDirectory dir, params string[] extra) =>
        new[] { "search", "--space", dir.File("space.yaml"), "--data", "embedded", "--limit", "64", "--large-batch", "8", "--out", dir.File("run") }
            .Concat(extra.Contains("--references") ? [] : new[] { "--references", "none" })
            .Concat(extra.Contains("--trials") ? [] : new[] { "--trials", "2" }).Concat(extra.Contains("--seed") ? [] : new[] { "--seed", "1" }).Concat(extra).ToArray();

    private static TempDirectory WithSpace(string text = Tiny)
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("space.yaml"), text);
        return dir;
    }

    [Fact]
    public void A_tiny_run_prints_a_line_per_trial_and_the_front_and_a_resume_must_keep_the_options()
    {
        using var dir = WithSpace();
        var r = CliRunner.Run(Args(dir, "--objective", "accuracy,latency_b1", "--constraint", "params < 100k"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal(2, r.Err.Split('\n').Count(l => l.StartsWith("trial ", StringComparison.Ordinal) && l.Contains("latency_b1 ")));
        Assert.Contains("goals accuracy (maximize), latency_b1_ms (minimize); constraints params ≤ 100000", r.Out);
        Assert.Contains("(front", r.Out);   // a row of the results table
        Assert.Contains("latency: ONNX Runtime, 1 thread on ", r.Out);
        Assert.Contains("training: adam lr 0.001, constant rate, batch 128; 1 epoch per trial", r.Out);   // the library's recipe without training flags
        foreach (var file in new[] { "result.json", "pareto.json", "trials.db", "options.json", "trials/0001/model.onnx", "trials/0002/model.onnx" })
            Assert.True(File.Exists(dir.File($"run/{file}")), file);

        var more = CliRunner.Run(Args(dir, "--objective", "accuracy,latency_b1", "--constraint", "params < 100k", "--trials", "3", "--resume", "--json"));
        Assert.True(more.ExitCode == 0, more.Err);
        using var doc = JsonDocument.Parse(more.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("trials").GetArrayLength());
        Assert.Single(more.Err.Split('\n'), l => l.StartsWith("trial ", StringComparison.Ordinal));   // only the new one ran

        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--objective", "accuracy,latency_b1", "--constraint", "params < 100k", "--seed", "2", "--resume")),
            "--seed differs from the run being continued (1 there, 2 now)");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--objective", "accuracy,latency_b1", "--constraint", "params < 100k", "--lr", "0.01", "--resume")),
            "--lr differs from the run being continued (0.001 there, 0.01 now)");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir)), "is not empty; continue the run there with --resume");
    }

    [Fact]
    public void The_training_flags_set_the_recipe_of_the_candidates_and_final_models()
    {
        using var dir = WithSpace();
        var r = CliRunner.Run(Args(dir, "--trials", "1", "--final-epochs", "2", "--optimizer", "sgd", "--lr", "0.02", "--nesterov", "--weight-decay", "1e-4",
            "--schedule", "step", "--step-epochs", "1", "--gamma", "0.5", "--label-smoothing", "0.1", "--batch", "32", "--json"));
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal("sgd lr 0.02 (Nesterov momentum 0.9), weight decay 0.0001, step schedule (×0.5 every epoch), label smoothing 0.1, batch 32; 1 epoch per trial, 2 final",
            doc.RootElement.GetProperty("training").GetString());
    }

    public static TheoryData<string, string[], string> BadInputs => new()
    {
        { "stages:\n  - channels: [4]\n    activation: [relu, swish]\n", [], "space.yaml:3: stages[0].activation[1]: must be one of relu, relu6, hardswish, gelu, sigmoid, tanh, not 'swish'" },
        { "stages:\n  - channels: [4]\n    block: [conv, mbconv]\n", [], "space.yaml:3: stages[0].block[1]: must be one of conv, depthwise, inverted, residual, not 'mbconv'" },
        { "stages: []\n", [], "space.yaml:1: stages: is empty: the space holds no network" },
        { "", [], "space.yaml:1: (file): is empty or not one mapping" },
        { "stages:\n  - { channels: [4], stride: [4], pool: [max] }\n  - { channels: [4], stride: [4], pool: [max] }\n", [], "stages[1]: can shrink the 28×28 input to 0×0" },
        { Tiny, ["--constraint", "params < 10", "--constraint", "params > 100"], "--constraint hold params < 10 and params > 100, which no candidate can meet" },
        { Tiny, ["--constraint", "params about 10"], "--constraint 'params about 10' is not METRIC < LIMIT or METRIC > LIMIT" },
        { Tiny, ["--objective", "flops"], "--objective name 'flops', which is not a metric" },
        { Tiny, ["--objective", "latency_b64"], "--large-batch is 8, so latency_b64_ms is not measured" },
        { Tiny, ["--objective", "fidelity"], "--objective name fidelity, which is scored on data without labels" },
        { Tiny, ["--teacher", "missing.onnx"], "--teacher 'missing.onnx' does not exist; give a trained ONNX model" },
        { Tiny, ["--temperature", "2"], "--temperature and --alpha belong to --teacher" },
        { Tiny, ["--trials", "0"], "--trials must be at least 1, got 0" },
        { Tiny, ["--warmup", "1"], "--warmup must be in [0, epochs), got 1" },
        { Tiny, ["--schedule", "linear"], "unknown --schedule 'linear'; choose none, step or cosine" },
        { Tiny, ["--batch", "0"], "--batch must be at least 1, got 0" },
        { Tiny, ["--lr", "0"], "--lr must be positive, got 0" },   // before the run, not in every trial
        { Tiny, ["--optimizer", "sgd", "--momentum", "1"], "--momentum must be in [0, 1), got 1" },
        { Tiny, ["--strategy", "annealing", "--objective", "accuracy,params"], "--objective hold 2 goals, and annealing follows one" },
        { Tiny, ["--references", "lenet7"], "--references name 'lenet7', which is not a zoo model; use lenet300, lenet5, vgg-small, resnet-small, or NAME=FILE.onnx" },
        { Tiny, ["--references", "mine=missing.onnx"], "--references give 'missing.onnx' for mine, which does not exist" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_is_one_line_and_exit_code_2_with_nothing_written(string space, string[] extra, string expected)
    {
        using var dir = WithSpace(space);
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, extra)), expected);
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void A_teacher_whose_outputs_are_not_the_datas_classes_is_refused_before_anything_is_written()
    {
        using var dir = WithSpace();
        var b = new NetworkBuilder("five", 0);
        b.Output(b.Linear(b.Flatten(b.Input("input", 1, 28, 28)), 5), "output");
        OnnxWriter.Write(b.Build(), dir.File("five.onnx"));
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, "--teacher", dir.File("five.onnx"))), "gives 5 classes and the data has 10; give a teacher trained on these classes");
        Assert.False(Directory.Exists(dir.File("run")));
    }
}
