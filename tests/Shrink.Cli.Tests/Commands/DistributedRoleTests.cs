using System.Diagnostics;
using Shrink.Search;
using Shrink.Training.Architecture;
using Shrink.Training.Optimization;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// <c>shrink optimize</c> and <c>shrink search</c> with <c>--role coordinator</c> on a real PostgreSQL server
/// (<see cref="PostgresServer"/>) and two <c>shrink worker</c> processes: the coordinator evaluates nothing, the workers run
/// the trials from the study's job and the shared artifacts directory, and the run ends with the trials and best of a run on
/// one machine with the same seed (the metrics that do not depend on timing: latency is measured where a trial runs). The
/// optimize space is cut to pruning and quantization to keep the test short (the library's DistributedOptimizeTests search
/// the whole space, fine-tuning included).
/// </summary>
[Collection("torch")]
public class DistributedRoleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private static List<CliProcess> Workers(string url) =>
        Enumerable.Range(0, 2).Select(_ => CliProcess.Start(["worker", "--storage", url, "--idle-exit", "240"])).ToList();

    /// <summary>True when <paramref name="worker"/> (host:pid/slot) is a slot of one of <paramref name="workers"/>.</summary>
    private static bool OneOf(string? worker, List<CliProcess> workers) =>
        workers.Any(w => worker?.StartsWith($"{Environment.MachineName}:{w.Process.Id}/", StringComparison.Ordinal) == true);

    [Fact]
    public void Optimize_as_a_coordinator_with_two_workers_ends_with_the_best_trial_of_a_local_run()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        string[] Args(string run, params string[] extra) => ["optimize", model, "--data", "embedded", "--max-epochs", "1", "--limit", "128", "--latency-batch", "1",
            "--max-accuracy-drop", "100", "--goal", "size", "--strategy", "random", "--seed", "3", "--trials", "3", "--techniques", "unstructured,quantize", "--out", run, .. extra];
        var local = CliRunner.Run(Args(dir.File("local")));
        Assert.True(local.ExitCode == 0, local.Err);
        var workers = Workers(url);
        try
        {
            var r = CliRunner.Run(Args(dir.File("run"), "--storage", url, "--role", "coordinator", "--artifacts", dir.File("shared")));
            Assert.True(r.ExitCode == 0, r.Err);
            var (a, b) = (Result(dir.File("local")), Result(dir.File("run")));
            Assert.Equal(a.Trials.Select(t => (t.Hash, t.Status)), b.Trials.Select(t => (t.Hash, t.Status)));
            Assert.Equal(a.Best!.Number, b.Best!.Number);
            foreach (var m in new[] { TrialMetrics.Bytes, TrialMetrics.FileBytes, TrialMetrics.Accuracy, TrialMetrics.Drop, TrialMetrics.DropHigh, TrialMetrics.Excess }.Where(a.Best.Metrics.ContainsKey))
                Assert.Equal(a.Best.Metrics[m], b.Best.Metrics[m]);
            Assert.Equal(File.ReadAllBytes(dir.File("local/best.onnx")), File.ReadAllBytes(dir.File("run/best.onnx")));
            Assert.True(File.Exists(dir.File("run/report.html")) && File.Exists(dir.File("run/report.json")));
            using var store = TrialStorage.Parse(url).Open();
            Assert.All(store.List(store.FindStudy("optimize")!).Where(t => t.ModelPath is not null), t => Assert.True(OneOf(t.Worker, workers), $"trial {t.Number} ran on {t.Worker}, not a worker"));
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    private const string Tiny = "stages:\n  - { block: [conv, depthwise], channels: [4, 8], stride: [2], activation: [relu, relu6] }\nhead: { classifier: [0, 16] }\n";

    [Fact]
    public void Search_as_a_coordinator_killed_and_resumed_with_two_workers_ends_with_the_front_of_a_local_run()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("space.yaml"), Tiny);
        string[] Args(string run, params string[] extra) => ["search", "--space", dir.File("space.yaml"), "--data", "embedded", "--limit", "64", "--large-batch", "8",
            "--seed", "1", "--strategy", "random", "--trials", "4", "--references", "none", "--objective", "accuracy,params", "--out", run, .. extra];
        var local = CliRunner.Run(Args(dir.File("local")));
        Assert.True(local.ExitCode == 0, local.Err);
        string[] Coordinator(params string[] extra) => Args(dir.File("run"), ["--storage", url, "--role", "coordinator", "--artifacts", dir.File("shared"), .. extra]);
        var workers = Workers(url);
        try
        {
            using (var first = CliProcess.Start(Coordinator()))
            {
                using var store = TrialStorage.Parse(url).Open();
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < Patience && !(store.FindStudy("search") is { } s && store.List(s).Any(t => t.IsFinished)))
                {
                    Assert.False(first.Process.HasExited, first.Err);
                    Thread.Sleep(100);
                }
                first.Process.Kill();   // kill -9 while the workers run what it wrote
                Assert.True(first.Process.WaitForExit(30_000));
            }
            var r = CliRunner.Run(Coordinator("--resume"));
            Assert.True(r.ExitCode == 0, r.Err);
            var (a, b) = (SearchResult(dir.File("local")), SearchResult(dir.File("run")));
            Assert.Equal(a.Trials.Select(t => (t.Number, t.Status, t.Summary)), b.Trials.Select(t => (t.Number, t.Status, t.Summary)));
            foreach (var (x, y) in a.Trials.Zip(b.Trials))
                foreach (var m in new[] { "accuracy", "params", "bytes", "macs" }.Where(x.Metrics.ContainsKey)) Assert.Equal(x.Metrics[m], y.Metrics[m]);
            Assert.Equal(a.Pareto, b.Pareto);
            Assert.Equal(a.Best, b.Best);
            Assert.All(b.FrontModels, f => Assert.True(File.Exists(f.Model), f.Model));
            Assert.True(File.Exists(dir.File("run/report.html")));
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    [Fact]
    public void A_coordinator_without_a_store_or_artifacts_or_with_a_latency_table_is_one_line_and_exit_code_2()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        string[] Optimize(params string[] extra) => ["optimize", model, "--data", "embedded", "--max-accuracy-drop", "1", "--trials", "2", "--out", dir.File("run"), "--role", "coordinator", .. extra];
        CliRunner.AssertBadInput(CliRunner.Run(Optimize("--artifacts", dir.File("shared"))), "--role coordinator needs --storage: the shared trial store (postgresql://…) that workers claim its trials from");
        CliRunner.AssertBadInput(CliRunner.Run(Optimize("--storage", "postgresql://127.0.0.1:1/db")), "--role coordinator needs --artifacts: a directory every worker reaches");
        File.WriteAllText(dir.File("space.yaml"), Tiny);
        CliRunner.AssertBadInput(CliRunner.Run("search", "--space", dir.File("space.yaml"), "--data", "embedded", "--out", dir.File("run"), "--role", "coordinator",
            "--storage", "postgresql://127.0.0.1:1/db", "--artifacts", dir.File("shared"), "--latency", "table"), "--latency must be measured with a coordinator");
        CliRunner.AssertBadInput(CliRunner.Run("search", "--space", dir.File("space.yaml"), "--data", "embedded", "--out", dir.File("run"), "--artifacts", dir.File("shared")),
            "--artifacts is for --role coordinator");
        Assert.False(Directory.Exists(dir.File("run")));
        Assert.False(Directory.Exists(dir.File("shared")));
    }

    private static OptimizeResult Result(string run) => OptimizeResult.FromJson(File.ReadAllText(Path.Combine(run, "result.json")));

    private static ArchitectureSearchResult SearchResult(string run) => ArchitectureSearchResult.FromJson(File.ReadAllText(Path.Combine(run, "result.json")));
}
