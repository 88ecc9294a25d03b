using Microsoft.Data.Sqlite;
using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

public class SqliteTrialStoreTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static Proposal P(int a, string b, double budget = 1) => new(Configuration.Of(("a", a), ("b", b)), budget);

    [Fact]
    public void Trials_are_written_claimed_finished_and_read_back_by_another_instance()
    {
        using var dir = new TempDirectory();
        var clock = new Clock();
        using (var store = SqliteTrialStore.InDirectory(dir.Path, clock))
        {
            var study = store.CreateStudy("s", Tiny(), """{"seed":1}""");
            var added = store.Add(study, [P(0, "p"), P(1, "q"), P(2, "r", 0.5)]);
            Assert.Equal([0, 1, 2], added.Select(t => t.Number));
            Assert.All(added, t => Assert.Equal(TrialStatus.Pending, t.Status));
            var claimed = store.Claim(study, "w0", TimeSpan.FromMinutes(5))!;
            Assert.Equal((0, TrialStatus.Running, "w0", 1), (claimed.Number, claimed.Status, claimed.Worker, claimed.Attempts));
            Assert.Equal(clock.Now, claimed.Started);
            Assert.Equal(clock.Now.AddMinutes(5), claimed.LeaseExpires);
            Assert.False(store.Finish(claimed.Id, "someone-else", TrialResult.Completed(new Dictionary<string, double> { ["loss"] = 1 }), 1));
            clock.Now = clock.Now.AddSeconds(90);
            Assert.True(store.Finish(claimed.Id, "w0", TrialResult.Completed(new Dictionary<string, double> { ["loss"] = 0.25, ["size"] = 1e-7 }, "m/0.onnx"), 89.5));
            Assert.False(store.Finish(claimed.Id, "w0", TrialResult.Failed("again"), 1));  // finished already
            var second = store.Claim(study, "w1", TimeSpan.FromMinutes(5))!;
            Assert.True(store.Finish(second.Id, "w1", TrialResult.Failed("CUDA out of memory"), 2));
            var third = store.Claim(study, "w1", TimeSpan.FromMinutes(5))!;
            Assert.True(store.Finish(third.Id, "w1", TrialResult.Pruned(new Dictionary<string, double> { ["loss"] = 9 }, "worse than the rung"), 3));
            Assert.Null(store.Claim(study, "w1", TimeSpan.FromMinutes(5)));
        }
        using var again = SqliteTrialStore.InDirectory(dir.Path);
        var reopened = again.FindStudy("s")!;
        Assert.Equal(("""{"seed":1}""", Tiny().Hash), (reopened.Settings, reopened.SpaceHash));
        var trials = again.List(reopened);
        Assert.Equal([TrialStatus.Completed, TrialStatus.Failed, TrialStatus.Pruned], trials.Select(t => t.Status));
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.25, ["size"] = 1e-7 }, trials[0].Metrics);
        Assert.Equal(("m/0.onnx", 89.5, "w0"), (trials[0].ModelPath, trials[0].Seconds, trials[0].Worker));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 5, 35, TimeSpan.Zero), trials[0].Finished);
        Assert.Equal("CUDA out of memory", trials[1].Error);
        Assert.Equal("worse than the rung", trials[2].Error);
        Assert.Equal(P(2, "r").Configuration, again.Find(reopened, P(2, "r").Configuration.Hash, 0.5)!.Configuration);
        Assert.Null(again.Find(reopened, P(2, "r").Configuration.Hash, 1));
        Assert.Null(again.FindStudy("other"));
    }

    [Fact]
    public void The_file_is_in_wal_mode_with_a_schema_version()
    {
        using var dir = new TempDirectory();
        using (var store = SqliteTrialStore.InDirectory(dir.Path)) Assert.Equal(2, store.SchemaVersion);
        using var c = new SqliteConnection($"Data Source={dir.File("trials.db")};Pooling=False");
        c.Open();
        using var mode = c.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode; ";
        Assert.Equal("wal", mode.ExecuteScalar());
        mode.CommandText = "SELECT version FROM schema_version";
        Assert.Equal(2L, mode.ExecuteScalar());
    }

    [Fact]
    public void A_duplicate_in_a_batch_refuses_the_whole_batch()
    {
        using var dir = new TempDirectory();
        using var store = SqliteTrialStore.InDirectory(dir.Path);
        var study = store.CreateStudy("s", Tiny(), "{}");
        store.Add(study, [P(0, "p")]);
        Assert.Throws<InvalidOperationException>(() => store.Add(study, [P(1, "p"), P(0, "p")]));
        Assert.Single(store.List(study));
        Assert.Equal(2, store.Add(study, [P(1, "p"), P(0, "p", 0.5)]).Count);  // another budget is another trial
        Assert.Throws<InvalidOperationException>(() => store.CreateStudy("s", Tiny(), "{}"));
    }

    [Fact]
    public void Parallel_claimers_on_their_own_connections_get_each_trial_exactly_once()
    {
        using var dir = new TempDirectory();
        using var setup = SqliteTrialStore.InDirectory(dir.Path);
        var study = setup.CreateStudy("s", Tiny(), "{}");
        setup.Add(study, Tiny().Enumerate().Select(c => new Proposal(c)).ToList());
        var claims = new System.Collections.Concurrent.ConcurrentBag<(long Id, string Worker)>();
        var threads = Enumerable.Range(0, 6).Select(w => new Thread(() =>
        {
            using var own = SqliteTrialStore.InDirectory(dir.Path);
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
    public void Recovery_gives_back_expired_claims_and_fails_a_trial_interrupted_too_often()
    {
        using var dir = new TempDirectory();
        var clock = new Clock();
        using var store = SqliteTrialStore.InDirectory(dir.Path, clock);
        var study = store.CreateStudy("s", Tiny(), "{}");
        store.Add(study, [P(0, "p"), P(1, "p")]);
        var a = store.Claim(study, "w0", TimeSpan.FromMinutes(1))!;
        clock.Now = clock.Now.AddMinutes(2);
        var b = store.Claim(study, "w1", TimeSpan.FromMinutes(1))!;
        var recovered = store.Recover(study, clock.Now, maxInterruptions: 2);  // a's lease ended, b's holds
        Assert.Equal([a.Id], recovered.Select(t => t.Id));
        Assert.Equal((TrialStatus.Pending, 1, (string?)null), (recovered[0].Status, recovered[0].Interruptions, recovered[0].Worker));
        Assert.Equal(TrialStatus.Running, store.Find(study, b.Hash, 1)!.Status);
        Assert.False(store.Renew(a.Id, "w0", TimeSpan.FromMinutes(1)));  // w0 lost its claim
        Assert.True(store.Renew(b.Id, "w1", TimeSpan.FromMinutes(1)));
        var retry = store.Claim(study, "w2", TimeSpan.FromMinutes(1))!;
        Assert.Equal((a.Id, 2), (retry.Id, retry.Attempts));
        var failed = store.Recover(study, DateTimeOffset.MaxValue, maxInterruptions: 2);
        Assert.Equal([TrialStatus.Failed, TrialStatus.Pending], failed.Select(t => t.Status));
        Assert.StartsWith("interrupted 2 times", failed[0].Error);
        Assert.True(store.Release(store.Claim(study, "w3", TimeSpan.FromMinutes(1))!.Id, "w3"));
        Assert.Equal(1, store.Find(study, b.Hash, 1)!.Interruptions);  // a release is no interruption
    }

    [Fact]
    public void A_file_that_is_not_a_store_or_is_of_a_newer_schema_is_one_clear_error()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("trials.db"), "this is not a database, it is a text file of some length to fill a page");
        var e = Assert.Throws<TrialStoreException>(() => SqliteTrialStore.InDirectory(dir.Path));
        Assert.Contains("not a trial store", e.Message);
        Assert.Contains(dir.File("trials.db"), e.Message);
        using var newer = new TempDirectory();
        SqliteTrialStore.InDirectory(newer.Path).Dispose();
        using (var c = new SqliteConnection($"Data Source={newer.File("trials.db")};Pooling=False"))
        {
            c.Open();
            using var up = c.CreateCommand();
            up.CommandText = "UPDATE schema_version SET version = 99";
            up.ExecuteNonQuery();
        }
        Assert.Contains("schema version 99; this Shrink reads up to 2", Assert.Throws<TrialStoreException>(() => SqliteTrialStore.InDirectory(newer.Path)).Message);
    }

    [Fact]
    public void Opening_a_study_checks_resume_the_space_and_the_settings()
    {
        using var dir = new TempDirectory();
        using var store = SqliteTrialStore.InDirectory(dir.Path);
        var missing = Assert.Throws<OptionsException>(() => Study.Open(store, "s", Tiny(), resume: true));
        Assert.Equal(["Resume"], missing.Wording.Options.Select(o => o.Property));
        Assert.Equal("there is no search 's' to continue here; start it without resume", missing.Message);
        var study = Study.Open(store, "s", Tiny(), """{ "seed": 1, "strategy": "random" }""");
        Assert.Contains("continue it with resume", Assert.Throws<OptionsException>(() => Study.Open(store, "s", Tiny())).Message);
        Assert.Contains("another search space", Assert.Throws<OptionsException>(() => Study.Open(store, "s", Bowl(), """{"seed":1,"strategy":"random"}""", resume: true)).Message);
        Assert.Contains("other settings", Assert.Throws<OptionsException>(() => Study.Open(store, "s", Tiny(), """{"seed":2,"strategy":"random"}""", resume: true)).Message);
        Assert.Equal(study.Info, Study.Open(store, "s", Tiny(), """{"strategy":"random","seed":1}""", resume: true).Info);
        var enqueued = study.Enqueue(Configuration.Of(("b", "q"), ("a", 1)));
        Assert.Equal("enqueued", enqueued.Origin);
        Assert.Equal(["a", "b"], enqueued.Configuration.Names);  // put in the space's order
        Assert.Equal(enqueued.Id, study.Enqueue(Configuration.Of(("a", 1), ("b", "q"))).Id);
        Assert.Throws<OptionsException>(() => study.Enqueue(Configuration.Of(("a", 9), ("b", "q"))));
    }
}

public class SqliteTrialStoreLockTests
{
    [Fact]
    public void An_exclusive_store_refuses_a_second_run_on_the_same_directory_until_it_is_closed()
    {
        using var dir = new TempDirectory();
        using (var first = SqliteTrialStore.OpenExclusive(dir.Path))
        {
            var e = Assert.Throws<TrialStoreException>(() => SqliteTrialStore.OpenExclusive(dir.Path));
            Assert.Contains("another run is using", e.Message);
            using var reader = SqliteTrialStore.InDirectory(dir.Path);  // reading beside it stays possible
            Assert.Null(reader.FindStudy("s"));
        }
        using var again = SqliteTrialStore.OpenExclusive(dir.Path);
        Assert.Equal(2, again.SchemaVersion);
    }
}

public class SqliteTrialStoreUpgradeTests
{
    [Fact]
    public void A_version_1_file_is_upgraded_in_place_keeping_its_trials_and_gains_late_results()
    {
        using var dir = new TempDirectory();
        using (var c = new SqliteConnection($"Data Source={dir.File("trials.db")};Pooling=False"))
        {
            c.Open();
            using var make = c.CreateCommand();
            make.CommandText = """
                CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
                CREATE TABLE studies (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL, space_hash TEXT NOT NULL,
                    settings TEXT NOT NULL, created TEXT NOT NULL);
                CREATE TABLE trials (id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies (id), number INTEGER NOT NULL,
                    configuration TEXT NOT NULL, hash TEXT NOT NULL, budget REAL NOT NULL, status TEXT NOT NULL, origin TEXT NOT NULL, parent INTEGER,
                    metrics TEXT, attributes TEXT, created TEXT NOT NULL, started TEXT, finished TEXT, seconds REAL, model_path TEXT, error TEXT,
                    worker TEXT, lease_expires TEXT, attempts INTEGER NOT NULL DEFAULT 0, interruptions INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (study_id, number), UNIQUE (study_id, hash, budget));
                """;
            make.ExecuteNonQuery();
        }
        var space = SearchHarness.Tiny();
        using (var c = new SqliteConnection($"Data Source={dir.File("trials.db")};Pooling=False"))
        {
            c.Open();
            using var add = c.CreateCommand();
            var conf = Configuration.Of(("a", 1), ("b", "p"));
            add.CommandText = $"""
                INSERT INTO studies VALUES (1, 's', '{space.Json.Replace("'", "''")}', '{space.Hash}', '{"{}"}', '2026-01-01T00:00:00.0000000Z');
                INSERT INTO trials (study_id, number, configuration, hash, budget, status, origin, created, worker, attempts, metrics, finished, seconds)
                VALUES (1, 0, '{conf.Json}', '{conf.Hash}', 1, 'completed', 'random', '2026-01-01T00:00:00.0000000Z', 'w', 1, '{"{"}"loss":0.5{"}"}', '2026-01-01T00:00:01.0000000Z', 1);
                INSERT INTO trials (study_id, number, configuration, hash, budget, status, origin, created, worker, attempts)
                VALUES (1, 1, '{Configuration.Of(("a", 2), ("b", "p")).Json}', '{Configuration.Of(("a", 2), ("b", "p")).Hash}', 1, 'running', 'random', '2026-01-01T00:00:00.0000000Z', 'w', 1);
                """;
            add.ExecuteNonQuery();
        }
        using var store = SqliteTrialStore.InDirectory(dir.Path);
        var study = store.FindStudy("s")!;
        Assert.Null(study.Job);
        var trials = store.List(study);
        Assert.Equal(0.5, trials[0].Metrics["loss"]);
        Assert.False(store.Finish(trials[1].Id, "not-w", TrialResult.Completed(new Dictionary<string, double> { ["loss"] = 1 }), 1));
        Assert.Equal("the lease ended and w holds the trial now", store.LateResults(study).Single().Reason);
        store.Heartbeat(new WorkerRecord("w", "worker", "h", 1, "1", 1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 0, "s"));
        Assert.Equal("w", store.Workers().Single().Name);
        using var c2 = new SqliteConnection($"Data Source={dir.File("trials.db")};Pooling=False");
        c2.Open();
        using var version = c2.CreateCommand();
        version.CommandText = "SELECT version FROM schema_version";
        Assert.Equal(2L, version.ExecuteScalar());
    }
}

public class TrialStorageSqliteTests
{
    [Theory]
    [InlineData("sqlite:/srv/runs/trials.db", "/srv/runs/trials.db")]
    [InlineData("sqlite:///srv/runs/trials.db", "/srv/runs/trials.db")]
    [InlineData("/srv/runs/trials.db", "/srv/runs/trials.db")]
    public void An_absolute_sqlite_path_keeps_its_root(string text, string path) => Assert.Equal(path, TrialStorage.Parse(text).SqlitePath);

    [Fact]
    public void A_relative_sqlite_path_is_taken_from_the_current_directory() =>
        Assert.Equal(Path.GetFullPath("runs/trials.db"), TrialStorage.Parse("sqlite:runs/trials.db").SqlitePath);
}
