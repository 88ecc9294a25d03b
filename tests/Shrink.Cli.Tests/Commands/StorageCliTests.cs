using Shrink.Search;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink search</c> and <c>shrink optimize</c> with <c>--storage</c>: the trials go to a shared PostgreSQL store, not DIR/trials.db; a resume reads them there.</summary>
[Collection("torch")]
public class StorageCliTests
{
    private const string Tiny = "stages:\n  - { block: [conv, depthwise], channels: [4, 8], stride: [2], activation: [relu, relu6] }\nhead: { classifier: [0, 16] }\n";

    [Fact]
    public void Search_keeps_its_trials_in_the_shared_store_and_resumes_from_it()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("space.yaml"), Tiny);
        string[] Args(params string[] extra) => ["search", "--space", dir.File("space.yaml"), "--data", "embedded", "--limit", "64", "--large-batch", "8",
            "--seed", "1", "--objective", "accuracy,latency_b1", "--out", dir.File("run"), "--storage", url, "--study", "nas-1", .. extra];
        var r = CliRunner.Run(Args("--trials", "2"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.False(File.Exists(dir.File("run/trials.db")));
        using var store = TrialStorage.Parse(url).Open();
        var study = store.FindStudy("nas-1")!;
        var first = store.List(study);
        Assert.Equal(2, first.Count(t => t.Status == TrialStatus.Completed));
        var more = CliRunner.Run(Args("--trials", "3", "--resume"));
        Assert.True(more.ExitCode == 0, more.Err);
        var after = store.List(study);
        Assert.Equal(3, after.Count);
        Assert.Equal(first.Select(t => (t.Id, t.Finished)), after.Take(2).Select(t => (t.Id, t.Finished)));   // kept, not run again
        var status = CliRunner.Run("study", "status", "--storage", url, "--study", "nas-1", "--metric", "accuracy", "--maximize");
        Assert.Contains("study nas-1: 3 trials (3 completed)", status.Out);
    }

    [Fact]
    public void Optimize_with_an_unreachable_store_writes_nothing_and_exits_2()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("optimize", model, "--data", "embedded", "--max-accuracy-drop", "100", "--trials", "1", "--out", dir.File("run"),
            "--storage", "postgresql://127.0.0.1:1/db?retry=0.5");
        CliRunner.AssertBadInput(r, "cannot open the trial store postgresql://127.0.0.1:1/db?schema=shrink: no connection");
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void Optimize_keeps_its_trials_in_the_shared_store()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("optimize", model, "--data", "embedded", "--max-epochs", "1", "--limit", "128", "--latency-batch", "1", "--max-accuracy-drop", "100",
            "--goal", "size", "--strategy", "random", "--seed", "3", "--trials", "2", "--out", dir.File("run"), "--storage", url, "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.False(File.Exists(dir.File("run/trials.db")));
        Assert.True(File.Exists(dir.File("run/best.onnx")));
        using var store = TrialStorage.Parse(url).Open();
        var trials = store.List(store.FindStudy("optimize")!);
        Assert.Equal(2, trials.Count);
        Assert.All(trials, t => Assert.True(t.IsFinished));
    }
}
