using System.Diagnostics;
using Shrink.Search;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// Distributed trials with real processes on a real PostgreSQL server (<see cref="PostgresServer"/>): <c>shrink study synthetic</c>
/// as the coordinator, several <c>shrink worker</c> processes, kill -9 of a worker and of the coordinator, the server stopped
/// for seconds, a worker frozen past its lease. Synthetic trials (<see cref="SyntheticJob"/>: a wait, then a loss that is a
/// fixed function of the configuration) make every result checkable. In the collection of the other tests on this process's
/// server (<see cref="DistributedRoleTests"/>, <see cref="StorageCliTests"/>): this one stops the server, which must not
/// happen while theirs run.
/// </summary>
[Collection("torch")]
public class DistributedTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public void Workers_and_the_coordinator_killed_and_the_server_stopped_lose_no_trial_and_finish_none_twice()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url(retry: 60);
        const int total = 30;
        string[] Coordinator(params string[] extra) => ["study", "synthetic", "--storage", url, "--study", "s", "--trials", $"{total}", "--seconds", "0.4", .. extra];
        string[] Worker() => ["worker", "--storage", url, "--threads", "2", "--lease", "3", "--idle-exit", "10"];
        using var store = TrialStorage.Parse(url).Open();
        var coordinator = CliProcess.Start(Coordinator());
        var workers = Enumerable.Range(0, 3).Select(_ => CliProcess.Start(Worker())).ToList();
        try
        {
            var study = WaitFor(() => store.FindStudy("s"), s => s is not null, coordinator)!;
            // kill -9 a worker while it holds running trials
            var victim = workers[0];
            WaitFor(() => store.List(study), ts => ts.Count(t => t.Status == TrialStatus.Completed) >= 3
                && ts.Any(t => t.Status == TrialStatus.Running && t.Worker!.StartsWith($"{Environment.MachineName}:{victim.Process.Id}/", StringComparison.Ordinal)), victim);
            victim.Process.Kill();
            var held = store.List(study).Where(t => t.Status == TrialStatus.Running && t.Worker!.StartsWith($"{Environment.MachineName}:{victim.Process.Id}/", StringComparison.Ordinal)).Select(t => t.Id).ToList();
            Assert.NotEmpty(held);
            workers.Add(CliProcess.Start(Worker()));
            // kill -9 the coordinator, then restart it with --resume
            WaitFor(() => store.List(study), ts => ts.Count(t => t.IsFinished) >= 10, coordinator);
            coordinator.Process.Kill();
            Assert.True(coordinator.Process.WaitForExit(30_000));
            coordinator.Dispose();
            coordinator = CliProcess.Start(Coordinator("--resume"));
            // the server goes away for a few seconds: everyone retries
            WaitFor(() => store.List(study), ts => ts.Count(t => t.IsFinished) >= 18, coordinator);
            server.Stop();
            Thread.Sleep(4000);
            server.Restart();
            Assert.True(coordinator.Process.WaitForExit((int)Patience.TotalMilliseconds), $"the coordinator ends: {coordinator.Err}");
            Assert.True(coordinator.Process.ExitCode == 0, coordinator.Err);
            var trials = store.List(study);
            Assert.Equal(total, trials.Count);
            Assert.Equal(Enumerable.Range(0, total), trials.Select(t => t.Number));
            Assert.Equal(total, trials.Select(t => t.Hash).Distinct().Count());   // no duplicate proposal
            Assert.All(trials, t => Assert.Equal((TrialStatus.Completed, SyntheticJob.Loss(t.Configuration)), (t.Status, t.Metrics["loss"])));
            foreach (var id in held) Assert.True(trials.Single(t => t.Id == id).Attempts >= 2, "the killed worker's trials were run again by another");
            // A result is written once: every late result is of a trial that another claim finished. That claim may be the
            // same worker's, when its lease ran out while the server was away and it then claimed the retried trial itself.
            foreach (var late in store.LateResults(study))
            {
                var final = trials.Single(t => t.Id == late.TrialId);
                Assert.True(late.Worker != final.Worker || late.Recorded <= final.Started,
                    $"trial {final.Number}: the late result of {late.Worker} at {late.Recorded:O} ({late.Reason}) is of the claim that finished it (started {final.Started:O})");
            }
            foreach (var w in workers.Skip(1)) Assert.True(w.Process.WaitForExit((int)Patience.TotalMilliseconds), w.Err);
            Assert.All(workers.Skip(1), w => Assert.True(w.Process.ExitCode == 0, w.Err));
        }
        finally
        {
            coordinator.Dispose();
            workers.ForEach(w => w.Dispose());
        }
    }

    [Fact]
    public void A_worker_frozen_past_its_lease_loses_the_trial_and_its_late_result_is_kept_not_used()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var store = TrialStorage.Parse(url).Open();
        var study = Study.Open(store, "s", SyntheticJob.Space(), "{}", job: SyntheticJob.Job(3).ToJson());
        var trial = study.Enqueue(Configuration.Of(("x", 7)));
        using var frozen = CliProcess.Start(["worker", "--storage", url, "--lease", "1", "--idle-exit", "30"]);
        var claimed = WaitFor(() => store.List(study.Info).Single(), t => t.Status == TrialStatus.Running, frozen);
        Signal("STOP", frozen.Process.Id);
        Thread.Sleep(1500);   // its lease (1 s) ends while it is frozen
        using var other = CliProcess.Start(["worker", "--storage", url, "--lease", "30", "--idle-exit", "2"]);
        var taken = WaitFor(() => store.List(study.Info).Single(), t => t.Status == TrialStatus.Running && t.Worker != claimed.Worker, other);
        Signal("CONT", frozen.Process.Id);
        Assert.True(other.Process.WaitForExit((int)Patience.TotalMilliseconds), other.Err);
        var done = store.List(study.Info).Single();
        Assert.Equal((TrialStatus.Completed, taken.Worker, 2), (done.Status, done.Worker, done.Attempts));
        var late = WaitFor(() => store.LateResults(study.Info), l => l.Count > 0, frozen).Single();
        Assert.Equal((trial.Id, claimed.Worker!, TrialStatus.Completed), (late.TrialId, late.Worker, late.Status));
        Assert.Contains(taken.Worker!, late.Reason);   // "… holds the trial now" or "… finished completed by …": whichever came first
        Assert.Equal(done.Finished, store.List(study.Info).Single().Finished);   // the late result changed nothing
    }

    [Fact]
    public void Status_shows_states_workers_throughput_and_the_best_and_migrate_moves_a_study_both_ways()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        var coordinator = CliRunner.Run("study", "synthetic", "--storage", url, "--study", "s", "--trials", "6", "--seconds", "0", "--queue", "6", "--wall-time", "0.5");
        Assert.True(coordinator.ExitCode == 0, coordinator.Err);
        Assert.Contains("0 of 6 trials finished", coordinator.Out);   // written, waiting for workers
        // A worker in this process runs them, then the status is read.
        using (var store = TrialStorage.Parse(url).Open())
        {
            var worker = new TrialWorker(store, SyntheticJob.Register(new TrialJobs()), new TrialWorkerOptions { Threads = 2, IdleExit = TimeSpan.Zero, Poll = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(6, worker.RunAsync().GetAwaiter().GetResult().Finished);
        }
        var status = CliRunner.Run("study", "status", "--storage", url);
        Assert.True(status.ExitCode == 0, status.Err);
        Assert.Contains("study s: 6 trials (6 completed), 0 retried, 0 late results kept", status.Out);
        Assert.Contains("workers alive: 0 (0 slots), coordinators alive: 0", status.Out);
        Assert.Matches(@"best: trial \d+, loss 0\.\d+", status.Out);
        Assert.DoesNotContain("password", status.Out);
        var db = dir.File("copy.db");
        var there = CliRunner.Run("study", "migrate", url, db);
        Assert.True(there.ExitCode == 0, there.Err);
        Assert.Equal($"study s: 6 trials copied from {TrialStorage.Parse(url).Display} to sqlite:{db}\n", there.Out);
        var back = server.Url();
        Assert.Equal(0, CliRunner.Run("study", "migrate", db, back).ExitCode);
        using var a = TrialStorage.Parse(url).Open();
        using var b = TrialStorage.Parse(back).Open();
        var (x, y) = (a.List(a.FindStudy("s")!), b.List(b.FindStudy("s")!));
        Assert.Equal(x.Select(t => (t.Number, t.Hash, t.Status, t.Metrics["loss"], t.Worker, t.Attempts)), y.Select(t => (t.Number, t.Hash, t.Status, t.Metrics["loss"], t.Worker, t.Attempts)));
        Assert.Equal(x.Select(t => t.Finished!.Value.ToUnixTimeMilliseconds()), y.Select(t => t.Finished!.Value.ToUnixTimeMilliseconds()));
        Assert.Equal(a.FindStudy("s")!.Job, b.FindStudy("s")!.Job);
        CliRunner.AssertBadInput(CliRunner.Run("study", "migrate", db, back), "has a study 's' already; migrate into another store");
    }

    [Fact]
    public void Workers_verify_the_input_artifact_and_trials_write_theirs_content_addressed()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var dir = new TempDirectory();
        var input = dir.File("model.onnx");
        File.WriteAllText(input, "the model every worker needs");
        var artifacts = dir.File("shared");
        var coordinator = CliRunner.Run("study", "synthetic", "--storage", url, "--study", "s", "--trials", "2", "--seconds", "0", "--artifacts", artifacts,
            "--input", input, "--queue", "2", "--wall-time", "0.5");
        Assert.True(coordinator.ExitCode == 0, coordinator.Err);
        using var store = TrialStorage.Parse(url).Open();
        var study = store.FindStudy("s")!;
        var kept = Assert.Single(Directory.GetFiles(Path.Combine(artifacts, "sha256"), "*.onnx", SearchOption.AllDirectories));
        File.WriteAllText(kept, "damaged on the way");
        var refused = CliRunner.Run("worker", "--storage", url, "--study", "s", "--idle-exit", "0");
        CliRunner.AssertBadInput(refused, "is damaged: its content hashes to sha256:");
        File.WriteAllText(kept, "the model every worker needs");
        var ran = CliRunner.Run("worker", "--storage", url, "--study", "s", "--idle-exit", "0");
        Assert.True(ran.ExitCode == 0, ran.Err);
        var shared = new ArtifactStore(artifacts);
        foreach (var t in store.List(study))
            Assert.Equal(t.Configuration.Json, File.ReadAllText(shared.Open(t.ModelPath!)));
    }

    [Fact]
    public void A_worker_of_another_version_than_the_coordinator_is_refused_naming_both()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using (var store = TrialStorage.Parse(url).Open())
        {
            var study = Study.Open(store, "s", SyntheticJob.Space(), "{}", job: new TrialJob(SyntheticJob.Kind, "0.9.0-old", new Dictionary<string, string> { ["seconds"] = "0" }).ToJson());
            study.Enqueue(Configuration.Of(("x", 1)));
        }
        CliRunner.AssertBadInput(CliRunner.Run("worker", "--storage", url, "--study", "s", "--idle-exit", "0"),
            $"this worker cannot serve study 's': its coordinator runs Shrink 0.9.0-old and this worker runs Shrink {ShrinkVersion.Current}; run the same version on every machine");
        var all = CliRunner.Run("worker", "--storage", url, "--idle-exit", "0");
        Assert.Equal(0, all.ExitCode);
        Assert.Contains("skipping study 's': its coordinator runs Shrink 0.9.0-old", all.Err);
    }

    [Fact]
    public void Bad_stores_are_one_line_and_exit_code_2()
    {
        var clock = Stopwatch.StartNew();
        CliRunner.AssertBadInput(CliRunner.Run("worker", "--storage", "postgresql://me:hunter2@127.0.0.1:1/db?retry=1"),
            "cannot open the trial store postgresql://me@127.0.0.1:1/db?schema=shrink: no connection (ConnectionRefused); retried for");
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.5, 30);
        CliRunner.AssertBadInput(CliRunner.Run("study", "status", "--storage", "mysql://h/db"), "is not a store Shrink knows");
        CliRunner.AssertBadInput(CliRunner.Run("study", "status", "--storage", "postgresql://h/"), "names no database");
        CliRunner.AssertBadInput(CliRunner.Run("study", "status", "--storage", "postgresql://h/db?schema=Bad-Name"), "schema 'Bad-Name' must be lower-case");
        CliRunner.AssertBadInput(CliRunner.Run("study", "status", "--storage", "postgresql://h/db?retry=soon"), "retry=soon must be a number of seconds");
        var hidden = CliRunner.Run("study", "status", "--storage", "postgresql://me:hunter2@h/db?nosuch=1");
        CliRunner.AssertBadInput(hidden, "'nosuch=1' is not a connection setting");
        Assert.DoesNotContain("hunter2", hidden.Err);
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        TrialStorage.Parse(url).Open().Dispose();
        var where = TrialStorage.Parse(url);
        using (var c = new Npgsql.NpgsqlConnection(where.ConnectionString))
        {
            c.Open();
            using var up = new Npgsql.NpgsqlCommand($"UPDATE {where.Schema}.schema_version SET version = 3", c);
            up.ExecuteNonQuery();
        }
        CliRunner.AssertBadInput(CliRunner.Run("study", "status", "--storage", url), "has schema version 3, and this Shrink writes version 2: use the Shrink that wrote it");
        CliRunner.AssertBadInput(CliRunner.Run("worker", "--storage", server.Url(), "--study", "nope", "--idle-exit", "0"), "there is no study 'nope'");
    }

    private static T WaitFor<T>(Func<T> read, Func<T, bool> done, CliProcess child)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            var value = read();
            if (done(value)) return value;
            Assert.False(child.Process.HasExited && child.Process.ExitCode != 0, $"the child ended with {(child.Process.HasExited ? child.Process.ExitCode : 0)}: {child.Err}");
            Thread.Sleep(100);
        }
        Assert.Fail($"not reached within {Patience}: {child.Err}");
        return default;
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { $"-{signal}", pid.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
    }
}
