using System.Diagnostics;
using System.Text.Json;
using Shrink.Search;
using Shrink.Training.Optimization;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// <c>shrink optimize</c> as a real process, killed with SIGKILL or stopped with SIGINT while a trial runs (polled: once
/// <c>trials.db</c> holds a finished trial and a running one), then continued with <c>--resume</c>: no finished trial is lost
/// or run again, the running one is retried, and the run ends where an uninterrupted one does. Random search, the size goal
/// and a budget every trial meets (100 points), so the best trial is the smallest, whatever the latencies measured.
/// </summary>
[Collection("torch")]
public class OptimizeCrashTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    private static string[] Args(string model, string run, params string[] extra) =>
        new[] { "optimize", model, "--data", "embedded", "--max-epochs", "1", "--limit", "128", "--latency-batch", "1", "--max-accuracy-drop", "100",
            "--goal", "size", "--strategy", "random", "--seed", "3", "--trials", "3", "--out", run }.Concat(extra).ToArray();

    [Fact]
    public void Kill_9_during_a_trial_loses_no_finished_trial_retries_the_running_one_and_resume_ends_with_the_uninterrupted_best()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var run = dir.File("run");
        using (var child = CliProcess.Start(Args(model, run), defaultSigint: false))
        {
            WaitForARunningTrialAfterAFinishedOne(child, run);
            child.Process.Kill();
            Assert.True(child.Process.WaitForExit(60_000), "the killed run is gone within a minute");
        }
        var before = Trials(run);
        var finished = before.Where(t => t.IsFinished).ToList();
        var running = Assert.Single(before, t => t.Status == TrialStatus.Running);
        Assert.NotEmpty(finished);

        var resumed = CliRunner.Run(Args(model, run, "--resume", "--json"));
        Assert.True(resumed.ExitCode == 0, resumed.Err);
        var after = Trials(run);
        Assert.Equal(3, after.Count);
        Assert.All(after, t => Assert.True(t.IsFinished, $"trial {t.Number} is {t.Status}"));
        foreach (var t in finished)
        {
            var same = after.Single(a => a.Number == t.Number);
            Assert.Equal((t.Hash, t.Status, t.Attempts, t.Finished, t.ModelPath), (same.Hash, same.Status, same.Attempts, same.Finished, same.ModelPath));
            Assert.Equal(t.Metrics.OrderBy(m => m.Key), same.Metrics.OrderBy(m => m.Key));   // kept, not run again
        }
        var retried = after.Single(a => a.Number == running.Number);
        Assert.Equal(running.Hash, retried.Hash);
        Assert.Equal((2, 1), (retried.Attempts, retried.Interruptions));

        var reference = CliRunner.Run(Args(model, dir.File("reference"), "--json"));
        Assert.True(reference.ExitCode == 0, reference.Err);
        Assert.Equal(Trials(dir.File("reference")).Select(t => t.Hash), after.Select(t => t.Hash));
        Assert.Equal(BestHash(reference.Out), BestHash(resumed.Out));
        Assert.Equal(BestHash(reference.Out), OptimizeResult.FromJson(File.ReadAllText(Path.Combine(run, "result.json"))).Best!.Hash);
    }

    [Fact]
    public void Sigint_during_a_trial_stops_cleanly_with_exit_code_130_the_files_on_disk_and_resume_continues()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var run = dir.File("run");
        string err;
        int code;
        using (var child = CliProcess.Start(Args(model, run), defaultSigint: true))
        {
            WaitForARunningTrialAfterAFinishedOne(child, run);
            using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", child.Process.Id.ToString() }, UseShellExecute = false })!)
                kill.WaitForExit();
            Assert.True(child.Process.WaitForExit((int)Patience.TotalMilliseconds), "the run stops after SIGINT");
            (code, err) = (child.Process.ExitCode, child.Err);
        }
        Assert.True(code == 130, $"exit {code}: {err}");
        Assert.Contains($"interrupted: the finished trials are kept in {Path.Combine(run, "trials.db")}", err);
        Assert.Contains("the running trial is retried when you continue with the same command and --resume", err);
        var before = Trials(run);
        Assert.DoesNotContain(before, t => t.Status == TrialStatus.Running);   // the running trial was given back
        var given = Assert.Single(before, t => t.Status == TrialStatus.Pending);
        foreach (var file in new[] { "best.onnx", "best.recipe.yaml", "pareto.json", "result.json" })
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        var written = OptimizeResult.FromJson(File.ReadAllText(Path.Combine(run, "result.json")));
        Assert.Equal("cancelled", written.Stop);
        Assert.Contains(written.Best!.Number, before.Where(t => t.IsFinished).Select(t => t.Number));

        var resumed = CliRunner.Run(Args(model, run, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Err);
        var after = Trials(run);
        Assert.Equal(3, after.Count);
        Assert.All(after, t => Assert.True(t.IsFinished, $"trial {t.Number} is {t.Status}"));
        Assert.Equal(2, after.Single(t => t.Number == given.Number).Attempts);
        Assert.All(before.Where(t => t.IsFinished), t => Assert.Equal(t.Attempts, after.Single(a => a.Number == t.Number).Attempts));
    }

    private static string BestHash(string json) => JsonDocument.Parse(json).RootElement.GetProperty("best").GetProperty("hash").GetString()!;

    private static IReadOnlyList<Trial> Trials(string run)
    {
        using var store = SqliteTrialStore.InDirectory(run);
        return store.FindStudy(Optimizer.StudyName) is { } study ? store.List(study) : [];
    }

    /// <summary>
    /// Polls the run directory until its store holds a finished trial and a running one (result.json is written once the
    /// first trial is finished, so the store exists by then); fails when the run exits first or after <see cref="Patience"/>.
    /// </summary>
    private static void WaitForARunningTrialAfterAFinishedOne(CliProcess child, string run)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            Assert.False(child.Process.HasExited, $"the run ended before it could be interrupted (exit {(child.Process.HasExited ? child.Process.ExitCode : 0)}): {child.Err}");
            if (File.Exists(Path.Combine(run, "result.json")))
            {
                var trials = Trials(run);
                if (trials.Any(t => t.IsFinished) && trials.Any(t => t.Status == TrialStatus.Running)) return;
            }
            Thread.Sleep(100);
        }
        Assert.Fail($"no trial was running after a finished one within {Patience}: {child.Err}");
    }
}
