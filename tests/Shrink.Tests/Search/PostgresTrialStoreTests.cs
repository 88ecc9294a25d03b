using System.Collections.Concurrent;
using Npgsql;
using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

/// <summary>The trial-store contract on a real PostgreSQL server (<see cref="PostgresServer"/>), one schema per test.</summary>
public class PostgresTrialStoreTests
{
    private static Proposal P(int a, string b, double budget = 1) => new(Configuration.Of(("a", a), ("b", b)), budget);

    private static Dictionary<string, double> Loss(double v) => new() { ["loss"] = v };

    [Fact]
    public void Trials_are_written_claimed_finished_and_read_back_by_another_connection()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using (var store = TrialStorage.Parse(url).Open())
        {
            var study = store.CreateStudy("s", Tiny(), """{"seed":1}""", """{"kind":"synthetic"}""");
            Assert.Throws<InvalidOperationException>(() => store.CreateStudy("s", Tiny(), "{}"));
            var added = store.Add(study, [P(0, "p"), P(1, "q"), P(2, "r", 0.5)]);
            Assert.Equal([0, 1, 2], added.Select(t => t.Number));
            Assert.Throws<InvalidOperationException>(() => store.Add(study, [P(3, "p"), P(0, "p")]));  // the whole batch refused
            Assert.Equal(3, store.List(study).Count);
            var claimed = store.Claim(study, "w0", TimeSpan.FromMinutes(5))!;
            Assert.Equal((0, TrialStatus.Running, "w0", 1), (claimed.Number, claimed.Status, claimed.Worker, claimed.Attempts));
            var lease = claimed.LeaseExpires!.Value - claimed.Started!.Value;
            Assert.Equal(TimeSpan.FromMinutes(5), lease);
            Assert.False(store.Finish(claimed.Id, "someone-else", TrialResult.Completed(Loss(1)), 1));
            Assert.True(store.Finish(claimed.Id, "w0", TrialResult.Completed(new Dictionary<string, double> { ["loss"] = 0.25, ["size"] = 1e-7 }, "m/0.onnx"), 89.5));
            Assert.True(store.Finish(claimed.Id, "w0", TrialResult.Completed(new Dictionary<string, double> { ["loss"] = 0.25, ["size"] = 1e-7 }, "m/0.onnx"), 89.5));  // a repeat: idempotent
            Assert.False(store.Finish(claimed.Id, "w0", TrialResult.Failed("again"), 1));
            var second = store.Claim(study, "w1", TimeSpan.FromMinutes(5))!;
            Assert.True(store.Finish(second.Id, "w1", TrialResult.Pruned(Loss(9), "worse than the rung"), 3));
            var late = store.LateResults(study);
            Assert.Equal([("someone-else", TrialStatus.Completed), ("w0", TrialStatus.Failed)], late.Select(l => (l.Worker, l.Status)));
            Assert.All(late, l => Assert.Equal(0, l.Number));
            Assert.StartsWith("the trial was finished completed by w0", late[1].Reason);
        }
        using var again = TrialStorage.Parse(url).Open();
        var reopened = again.FindStudy("s")!;
        Assert.Equal(("""{"seed":1}""", Tiny().Hash, """{"kind":"synthetic"}"""), (reopened.Settings, reopened.SpaceHash, reopened.Job));
        var trials = again.List(reopened);
        Assert.Equal([TrialStatus.Completed, TrialStatus.Pruned, TrialStatus.Pending], trials.Select(t => t.Status));
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.25, ["size"] = 1e-7 }, trials[0].Metrics);
        Assert.Equal(("m/0.onnx", 89.5, "w0"), (trials[0].ModelPath, trials[0].Seconds, trials[0].Worker));
        Assert.Equal("worse than the rung", trials[1].Error);
        Assert.Equal(P(2, "r").Configuration, again.Find(reopened, P(2, "r").Configuration.Hash, 0.5)!.Configuration);
        Assert.Null(again.Find(reopened, P(2, "r").Configuration.Hash, 1));
        Assert.Equal(["s"], again.Studies().Select(s => s.Name));
        Assert.Null(again.SetJob(reopened, null).Job);
    }

    [Fact]
    public void Writes_that_make_a_trial_pending_wake_the_listener_of_another_connection_and_nothing_else_does()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var listener = TrialStorage.Parse(url).Open();
        using var writer = TrialStorage.Parse(url).Open();
        var study = writer.CreateStudy("s", Tiny(), "{}");
        var wait = TimeSpan.FromSeconds(30);
        Assert.True(listener.NextPending().Wait(wait));    // the first signal: the listener is up
        var pending = listener.NextPending();
        Assert.Null(writer.Claim(study, "w", TimeSpan.FromMinutes(5)));     // nothing written, nothing announced
        using (writer.Scratch()) writer.Add(study, [P(9, "z")]);             // not kept, not announced
        Assert.False(pending.Wait(TimeSpan.FromMilliseconds(300)));
        writer.Add(study, [P(0, "p"), P(1, "q")]);
        Assert.True(pending.Wait(wait));
        pending = listener.NextPending();
        var first = writer.Claim(study, "w", TimeSpan.FromMinutes(5))!;
        Assert.True(writer.Finish(first.Id, "w", TrialResult.Completed(Loss(1)), 1));
        var second = writer.Claim(study, "w", TimeSpan.FromMinutes(5))!;
        Thread.Sleep(300);
        Assert.False(pending.IsCompleted);                                   // claims and results are not announced
        Assert.True(writer.Release(second.Id, "w"));
        Assert.True(pending.Wait(wait));
        Assert.Same(TrialStores.Never, ((ITrialStore)new MemoryTrialStore()).NextPending());   // a store that cannot tell: its workers poll
    }

    [Fact]
    public void An_idle_worker_claims_a_trial_when_it_is_written_not_at_its_next_poll()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var coordinatorStore = TrialStorage.Parse(url).Open();
        using var workerStore = TrialStorage.Parse(url).Open();
        using var stop = new CancellationTokenSource();
        var worker = Task.Run(() => new TrialWorker(workerStore, SyntheticJob.Register(new TrialJobs()),
            new TrialWorkerOptions { Poll = TimeSpan.FromSeconds(60), Lease = TimeSpan.FromMinutes(3), Name = "idle" }).RunAsync(stop.Token));
        while (!coordinatorStore.Workers().Any(w => w.Name == "idle")) Thread.Sleep(50);   // up, and waiting a minute for its next look
        Thread.Sleep(500);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (_, summary) = SyntheticJob.Coordinate(coordinatorStore, new SyntheticStudyOptions { Study = "woken", Seconds = 0, Seed = 5 },
            new CoordinatorOptions { MaxTrials = 1, Ahead = 1, Poll = TimeSpan.FromMilliseconds(50) });
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 20);   // its poll alone would have taken up to a minute
        stop.Cancel();
        Assert.True(worker.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(TrialStatus.Completed, summary.Trials.Single().Status);
    }

    [Fact]
    public void Parallel_claimers_on_their_own_connections_get_each_trial_exactly_once()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var setup = TrialStorage.Parse(url).Open();
        var study = setup.CreateStudy("s", Tiny(), "{}");
        setup.Add(study, Tiny().Enumerate().Select(c => new Proposal(c)).ToList());
        var claims = new ConcurrentBag<(long Id, string Worker)>();
        var threads = Enumerable.Range(0, 8).Select(w => new Thread(() =>
        {
            using var own = TrialStorage.Parse(url).Open();
            while (own.Claim(study, $"w{w}", TimeSpan.FromMinutes(1)) is { } t) claims.Add((t.Id, $"w{w}"));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(36, claims.Count);
        Assert.Equal(36, claims.Select(c => c.Id).Distinct().Count());
        var trials = setup.List(study);
        Assert.All(trials, t => Assert.Equal((TrialStatus.Running, 1), (t.Status, t.Attempts)));
        Assert.Equal(claims.ToDictionary(c => c.Id, c => c.Worker), trials.ToDictionary(t => t.Id, t => t.Worker!));
    }

    [Fact]
    public void Two_coordinators_adding_at_once_number_the_trials_without_a_gap_or_a_clash()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var setup = TrialStorage.Parse(url).Open();
        var study = setup.CreateStudy("s", Tiny(), "{}");
        var all = Tiny().Enumerate().ToList();
        var threads = Enumerable.Range(0, 2).Select(k => new Thread(() =>
        {
            using var own = TrialStorage.Parse(url).Open();
            foreach (var c in all.Where((_, i) => i % 2 == k)) own.Add(study, [new Proposal(c)]);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(Enumerable.Range(0, 36), setup.List(study).Select(t => t.Number));
    }

    [Fact]
    public void Leases_are_the_servers_recovery_gives_back_expired_claims_and_fails_a_trial_interrupted_too_often()
    {
        if (PostgresServer.Get() is not { } server) return;
        using var store = TrialStorage.Parse(server.Url()).Open();
        var study = store.CreateStudy("s", Tiny(), "{}");
        store.Add(study, [P(0, "p"), P(1, "p")]);
        var a = store.Claim(study, "w0", TimeSpan.FromMilliseconds(300))!;
        var b = store.Claim(study, "w1", TimeSpan.FromMinutes(10))!;
        // A worker whose clock is a day behind (or ahead) changes nothing: the server's clock decides.
        Assert.Empty(store.Recover(study, DateTimeOffset.UtcNow.AddDays(1), maxInterruptions: 2));
        Thread.Sleep(600);
        var recovered = store.Recover(study, DateTimeOffset.UtcNow.AddDays(-1), maxInterruptions: 2);
        Assert.Equal([a.Id], recovered.Select(t => t.Id));
        Assert.Equal((TrialStatus.Pending, 1, (string?)null), (recovered[0].Status, recovered[0].Interruptions, recovered[0].Worker));
        Assert.False(store.Renew(a.Id, "w0", TimeSpan.FromMinutes(1)));  // w0 lost its claim
        Assert.True(store.Renew(b.Id, "w1", TimeSpan.FromMinutes(1)));
        Assert.False(store.Finish(a.Id, "w0", TrialResult.Completed(Loss(1)), 1));  // its late result is kept, not used
        Assert.Equal("the lease ended and the trial waits to be retried", store.LateResults(study).Single().Reason);
        var retry = store.Claim(study, "w2", TimeSpan.FromMinutes(1))!;
        Assert.Equal((a.Id, 2), (retry.Id, retry.Attempts));
        var failed = store.Recover(study, DateTimeOffset.MaxValue, maxInterruptions: 2);
        Assert.Equal([TrialStatus.Failed, TrialStatus.Pending], failed.Select(t => t.Status));
        Assert.StartsWith("interrupted 2 times", failed[0].Error);
        Assert.True(store.Release(store.Claim(study, "w3", TimeSpan.FromMinutes(1))!.Id, "w3"));
        Assert.Equal(1, store.Find(study, b.Hash, 1)!.Interruptions);  // a release is no interruption
    }

    [Fact]
    public void Heartbeats_are_kept_per_worker_with_the_servers_time()
    {
        if (PostgresServer.Get() is not { } server) return;
        using var store = TrialStorage.Parse(server.Url()).Open();
        var skewed = DateTimeOffset.UtcNow.AddHours(-5);
        store.Heartbeat(new WorkerRecord("h:1", "worker", "h", 1, "1.0", 2, skewed, skewed, 0, null));
        store.Heartbeat(new WorkerRecord("h:1", "worker", "h", 1, "1.0", 2, skewed, skewed, 3, "s"));
        var w = store.Workers().Single();
        Assert.Equal((3, "s"), (w.Finished, w.Study));
        Assert.True((store.Now() - w.Heartbeat).Duration() < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void A_store_of_another_schema_version_says_to_migrate()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        var where = TrialStorage.Parse(url);
        new PostgresTrialStore(where).Dispose();
        using (var c = new NpgsqlConnection(where.ConnectionString))
        {
            c.Open();
            using var up = new NpgsqlCommand($"UPDATE {where.Schema}.schema_version SET version = 1", c);
            up.ExecuteNonQuery();
        }
        var e = Assert.Throws<TrialStoreException>(() => new PostgresTrialStore(where));
        Assert.Equal($"the trial store {where.Display} has schema version 1, and this Shrink writes version 2: move its studies to a new store with `shrink study migrate {where.Display} NEW-STORE`", e.Message);
    }

    /// <summary>Runs <paramref name="sql"/> as the server's superuser.</summary>
    private static void AsSuperuser(PostgresServer server, string sql)
    {
        using var c = new NpgsqlConnection(TrialStorage.Parse(server.Url()).ConnectionString);
        c.Open();
        using var command = new NpgsqlCommand(sql, c);
        command.ExecuteNonQuery();
    }

    /// <summary>A new login role that owns schema <paramref name="schema"/> and has no other right (docs/distributed.md's setup); its storage URL.</summary>
    private static string SchemaOwner(PostgresServer server, string schema)
    {
        var role = $"r{Guid.NewGuid():N}";
        AsSuperuser(server, $"CREATE ROLE {role} LOGIN; CREATE SCHEMA {schema} AUTHORIZATION {role};");
        return $"postgresql://{role}@127.0.0.1:{server.Port}/postgres?schema={schema}&retry=5";
    }

    [Fact]
    public void A_role_that_owns_only_its_schema_opens_the_store_and_runs_a_study_in_it()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = SchemaOwner(server, $"s{Guid.NewGuid():N}");
        using var store = TrialStorage.Parse(url).Open();
        var study = store.CreateStudy("s", Tiny(), "{}");
        store.Add(study, [P(0, "p")]);
        var t = store.Claim(study, "w", TimeSpan.FromMinutes(1))!;
        Assert.True(store.Finish(t.Id, "w", TrialResult.Completed(Loss(0.5)), 1));
        Assert.Equal(TrialStatus.Completed, store.List(study).Single().Status);
    }

    [Fact]
    public void A_worker_role_granted_only_the_documented_rights_runs_a_study_and_its_schema_may_be_as_long_as_postgres_allows()
    {
        if (PostgresServer.Get() is not { } server) return;
        var schema = "w" + new string('x', 30) + Guid.NewGuid().ToString("N");   // 63 characters: the longest name PostgreSQL keeps
        var owner = $"postgresql://shrink@127.0.0.1:{server.Port}/postgres?schema={schema}&retry=5";
        using var coordinator = TrialStorage.Parse(owner).Open();   // the tables, made by the owner
        var role = $"r{Guid.NewGuid():N}";
        // docs/distributed.md, "Least rights": what a worker needs once the tables exist
        AsSuperuser(server, $"""
            CREATE ROLE {role} LOGIN;
            GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT ON {schema}.schema_version TO {role};
            GRANT SELECT, INSERT, UPDATE ON {schema}.trials, {schema}.studies, {schema}.workers, {schema}.late_results TO {role};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
            """);
        using var workerStore = TrialStorage.Parse($"postgresql://{role}@127.0.0.1:{server.Port}/postgres?schema={schema}&retry=5").Open();
        using var stop = new CancellationTokenSource();
        var notes = new List<string>();
        var worker = Task.Run(() => new TrialWorker(workerStore, SyntheticJob.Register(new TrialJobs()),
            new TrialWorkerOptions { Poll = TimeSpan.FromSeconds(60), Note = notes.Add }).RunAsync(stop.Token));
        var (_, summary) = SyntheticJob.Coordinate(coordinator, new SyntheticStudyOptions { Study = "granted", Seconds = 0, Seed = 2 },
            new CoordinatorOptions { MaxTrials = 3, Poll = TimeSpan.FromMilliseconds(50) });
        stop.Cancel();
        Assert.True(worker.Wait(TimeSpan.FromSeconds(30)));
        Assert.All(summary.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        Assert.Equal(3, summary.Trials.Count);
        Assert.DoesNotContain(notes, n => n.Contains("rehearsal"));
    }

    [Fact]
    public void A_scratch_scope_keeps_nothing_it_wrote_and_another_connection_never_sees_it()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using var store = TrialStorage.Parse(url).Open();
        using var other = TrialStorage.Parse(url).Open();
        var kept = store.CreateStudy("kept", Tiny(), "{}");
        using (var scratch = store.Scratch())
        {
            Assert.NotNull(scratch);
            Assert.Throws<InvalidOperationException>(() => store.Scratch());
            var study = store.CreateStudy("scratch", Tiny(), "{}");
            store.Add(study, [P(0, "p")]);
            store.Add(kept, [P(1, "q")]);
            var t = store.Claim(study, "w", TimeSpan.FromMinutes(1))!;
            Assert.True(store.Renew(t.Id, "w", TimeSpan.FromMinutes(2)));
            Assert.True(store.Finish(t.Id, "w", TrialResult.Completed(Loss(0.5)), 1));
            Assert.Equal(TrialStatus.Completed, store.Find(study, t.Hash, t.Budget)!.Status);
            Assert.Equal(["kept", "scratch"], store.Studies().Select(s => s.Name));
            Assert.Equal(["kept"], other.Studies().Select(s => s.Name));   // not committed: no one else sees it
            Assert.Empty(other.List(kept));
        }
        Assert.Equal(["kept"], store.Studies().Select(s => s.Name));
        Assert.Empty(store.List(kept));
        store.Add(kept, [P(1, "q")]);   // after the scope, calls commit again
        Assert.Single(other.List(kept));
    }

    [Fact]
    public void A_worker_rehearses_a_trial_at_start_keeps_nothing_of_it_and_refuses_a_role_that_cannot_claim_trials()
    {
        if (PostgresServer.Get() is not { } server) return;
        var url = server.Url();
        using (var store = TrialStorage.Parse(url).Open())
        {
            var notes = new List<string>();
            var summary = new TrialWorker(store, SyntheticJob.Register(new TrialJobs()),
                new TrialWorkerOptions { IdleExit = TimeSpan.Zero, Note = notes.Add }).RunAsync().GetAwaiter().GetResult();
            Assert.Equal(new WorkerSummary(0, 0, 0), summary);
            Assert.Empty(store.Studies());
            Assert.DoesNotContain(notes, n => n.Contains("rehearsal"));
        }
        var schema = $"s{Guid.NewGuid():N}";
        var limited = SchemaOwner(server, schema);
        new PostgresTrialStore(TrialStorage.Parse(limited)).Dispose();   // the tables, owned by the role
        var role = limited[13..limited.IndexOf('@')];
        AsSuperuser(server, $"ALTER TABLE {schema}.trials OWNER TO shrink; GRANT SELECT, INSERT ON {schema}.trials TO {role}; GRANT UPDATE (lease_expires) ON {schema}.trials TO {role}; GRANT USAGE ON SEQUENCE {schema}.trials_id_seq TO {role}");
        using var refused = TrialStorage.Parse(limited).Open();   // tables there: opened with no right to create or alter them
        var e = Assert.Throws<TrialStoreException>(() => new TrialWorker(refused, SyntheticJob.Register(new TrialJobs()),
            new TrialWorkerOptions { IdleExit = TimeSpan.Zero }).RunAsync().GetAwaiter().GetResult());
        Assert.Equal($"cannot claim a trial in the trial store {TrialStorage.Parse(limited).Display}: permission denied for table trials (SQLSTATE 42501)", e.Message);
        Assert.Empty(refused.Studies());
        Assert.Empty(refused.Workers());   // refused before its first heartbeat
    }

    [Fact]
    public void An_unreachable_server_is_retried_for_the_stated_time_then_refused_in_one_line()
    {
        var port = PostgresServer.Get()?.Port + 1 ?? 1;  // nothing listens there
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<TrialStoreException>(() => TrialStorage.Parse($"postgresql://shrink:secret@127.0.0.1:{port}/db?retry=2").Open());
        Assert.InRange(clock.Elapsed.TotalSeconds, 1, 30);
        Assert.StartsWith($"cannot open the trial store postgresql://shrink@127.0.0.1:{port}/db?schema=shrink: no connection (ConnectionRefused); retried for", e.Message);
        Assert.DoesNotContain("secret", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
