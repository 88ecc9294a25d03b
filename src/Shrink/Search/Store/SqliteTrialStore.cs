using Microsoft.Data.Sqlite;

namespace Shrink.Search;

/// <summary>
/// The trial store of one run directory: an embedded SQLite database (<c>DIR/trials.db</c>), in WAL mode with
/// <c>synchronous = FULL</c> (a finished trial survives kill -9 and power loss), a busy timeout, and every write in
/// one <c>BEGIN IMMEDIATE</c> transaction. Each call opens its own pooled connection, so one instance may be used
/// from many threads and several instances (or processes) may share the file; SQLite's write lock makes
/// <see cref="Claim"/> atomic among them. All SQL lives in this class.
/// </summary>
public sealed partial class SqliteTrialStore : ITrialStore
{
    /// <summary>The schema version this class writes (table <c>schema_version</c>).</summary>
    public const int Version = TrialSchema.Version;

    /// <summary>The file name of the store in a run directory.</summary>
    public const string FileName = "trials.db";

    private readonly string _connection;
    private readonly TimeProvider _clock;
    private FileStream? _lock;

    /// <summary>Opens (creating when missing) the store at <paramref name="path"/>.</summary>
    public SqliteTrialStore(string path, TimeProvider? clock = null, TimeSpan? busyTimeout = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        _clock = clock ?? TimeProvider.System;
        var timeout = (int)(busyTimeout ?? TimeSpan.FromSeconds(30)).TotalSeconds;
        _connection = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true, DefaultTimeout = timeout }.ToString();
        Guard(() => { using var c = Open(); CreateSchema(c); return 0; }, "open");
    }

    /// <summary>The store in run directory <paramref name="directory"/> (<see cref="FileName"/>).</summary>
    public static SqliteTrialStore InDirectory(string directory, TimeProvider? clock = null) =>
        new(System.IO.Path.Combine(directory, FileName), clock);

    /// <summary>
    /// The store of run directory <paramref name="directory"/> (created when missing) for a run that must be its only coordinator (the
    /// local runner, <see cref="SearchRunOptions.SoleCoordinator"/>): it holds <c>trials.db.lock</c> exclusively until
    /// disposed — released by the system when the process dies, kill -9 included — and refuses, with a
    /// <see cref="TrialStoreException"/>, a directory another live run holds.
    /// </summary>
    public static SqliteTrialStore OpenExclusive(string directory, TimeProvider? clock = null)
    {
        var lockPath = System.IO.Path.Combine(System.IO.Path.GetFullPath(directory), FileName + ".lock");
        FileStream held;
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(lockPath)!);
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(lockPath) && e is not DirectoryNotFoundException)
        {
            throw new TrialStoreException($"another run is using '{directory}' (it holds '{lockPath}'); wait for it to end, or give another run directory", e);
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw EnvironmentFailureException.From($"lock '{lockPath}'", e);
        }
        try
        {
            return new SqliteTrialStore(System.IO.Path.Combine(directory, FileName), clock) { _lock = held };
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    public int SchemaVersion => Version;

    public StudyInfo CreateStudy(string name, SearchSpace space, string settings, string? job = null) =>
        Import(new StudyInfo(0, name, space.Json, space.Hash, settings, _clock.GetUtcNow(), job), []);

    public StudyInfo SetJob(StudyInfo study, string? job) => Write("publish a job in", (c, tx) =>
    {
        Execute(c, tx, "UPDATE studies SET job = $j WHERE id = $id", ("$j", job), ("$id", study.Id));
        return ReadStudy(c, tx, study.Name)!;
    });

    public IReadOnlyList<StudyInfo> Studies() => Guard(() => { using var c = Open(); return ReadStudies(c, null, ""); }, "read");

    public StudyInfo? FindStudy(string name) => Guard(() => { using var c = Open(); return ReadStudy(c, null, name); }, "read");

    public StudyInfo Import(StudyInfo study, IReadOnlyList<Trial> trials) => Write("write a study in", (c, tx) =>
    {
        if (ReadStudy(c, tx, study.Name) is not null) throw new InvalidOperationException($"study '{study.Name}' exists");
        Execute(c, tx, "INSERT INTO studies (name, space, space_hash, settings, created, job) VALUES ($name, $space, $hash, $settings, $now, $job)",
            ("$name", study.Name), ("$space", study.Space), ("$hash", study.SpaceHash), ("$settings", study.Settings), ("$now", Time(study.Created)), ("$job", study.Job));
        var written = ReadStudy(c, tx, study.Name)!;
        foreach (var t in trials)
            Execute(c, tx, $"""
                INSERT INTO trials (study_id, hash, {Columns.Replace("id, number", "number", StringComparison.Ordinal)})
                VALUES ($s, $h, $n, $c, $b, $st, $o, $p, $m, $a, $cr, $sa, $fi, $sec, $path, $e, $w, $l, $at, $i)
                """, ("$s", written.Id), ("$h", t.Hash), ("$n", t.Number), ("$c", t.Configuration.Json), ("$b", t.Budget), ("$st", StatusText(t.Status)),
                ("$o", t.Origin), ("$p", t.Parent), ("$m", Json(t.Metrics)), ("$a", Json(t.Attributes)), ("$cr", Time(t.Created)),
                ("$sa", Time(t.Started)), ("$fi", Time(t.Finished)), ("$sec", t.Seconds), ("$path", t.ModelPath), ("$e", t.Error),
                ("$w", t.Worker), ("$l", Time(t.LeaseExpires)), ("$at", t.Attempts), ("$i", t.Interruptions));
        return written;
    });

    public void Heartbeat(WorkerRecord worker) => Write("record a heartbeat in", (c, tx) => Execute(c, tx, """
        INSERT INTO workers (name, role, host, pid, version, threads, started, heartbeat, finished, study)
        VALUES ($n, $r, $h, $p, $v, $t, $s, $now, $f, $st)
        ON CONFLICT (name) DO UPDATE SET role = $r, host = $h, pid = $p, version = $v, threads = $t, heartbeat = $now, finished = $f, study = $st
        """, ("$n", worker.Name), ("$r", worker.Role), ("$h", worker.Host), ("$p", worker.Pid), ("$v", worker.Version), ("$t", worker.Threads),
        ("$s", Time(worker.Started)), ("$now", Time(_clock.GetUtcNow())), ("$f", worker.Finished), ("$st", worker.Study)));

    public IReadOnlyList<WorkerRecord> Workers() => Guard(() => { using var c = Open(); return ReadWorkers(c); }, "read");

    public IReadOnlyList<LateResult> LateResults(StudyInfo study) => Guard(() => { using var c = Open(); return ReadLate(c, study.Id); }, "read");

    public DateTimeOffset Now() => _clock.GetUtcNow();

    public IReadOnlyList<Trial> Add(StudyInfo study, IReadOnlyList<Proposal> proposals) => Write("add trials to", (c, tx) =>
    {
        var next = Scalar(c, tx, "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = $s", ("$s", study.Id));
        var now = Time(_clock.GetUtcNow());
        var ids = new List<long>();
        foreach (var p in proposals)
        {
            if (Scalar(c, tx, "SELECT COUNT(*) FROM trials WHERE study_id = $s AND hash = $h AND budget = $b",
                    ("$s", study.Id), ("$h", p.Configuration.Hash), ("$b", p.Budget)) > 0)
                throw new InvalidOperationException($"study '{study.Name}' has a trial of {p.Configuration.Hash} at budget {p.Budget} already");
            Execute(c, tx, """
                INSERT INTO trials (study_id, number, configuration, hash, budget, status, origin, parent, created)
                VALUES ($s, $n, $c, $h, $b, 'pending', $o, $p, $now)
                """, ("$s", study.Id), ("$n", next++), ("$c", p.Configuration.Json), ("$h", p.Configuration.Hash),
                ("$b", p.Budget), ("$o", p.Origin), ("$p", p.Parent), ("$now", now));
            ids.Add(Scalar(c, tx, "SELECT last_insert_rowid()"));
        }
        return ids.Select(id => ReadTrials(c, tx, "id = $id", ("$id", id)).Single()).ToList();
    });

    public Trial? Claim(StudyInfo study, string worker, TimeSpan lease) => Write("claim a trial in", (c, tx) =>
    {
        var now = _clock.GetUtcNow();
        var id = ScalarOrNull(c, tx, "SELECT id FROM trials WHERE study_id = $s AND status = 'pending' ORDER BY number LIMIT 1", ("$s", study.Id));
        if (id is null) return null;
        Execute(c, tx, """
            UPDATE trials SET status = 'running', worker = $w, started = $now, lease_expires = $lease, attempts = attempts + 1
            WHERE id = $id AND status = 'pending'
            """, ("$w", worker), ("$now", Time(now)), ("$lease", Time(now + lease)), ("$id", id));
        return ReadTrials(c, tx, "id = $id", ("$id", id)).Single();
    });

    public bool Renew(long trialId, string worker, TimeSpan lease) => Write("renew a lease in", (c, tx) =>
        Execute(c, tx, "UPDATE trials SET lease_expires = $lease WHERE id = $id AND status = 'running' AND worker = $w",
            ("$lease", Time(_clock.GetUtcNow() + lease)), ("$id", trialId), ("$w", worker)) == 1);

    public bool Finish(long trialId, string worker, TrialResult result, double seconds)
    {
        TrialRows.CheckFinite(result);
        return Write("finish a trial in", (c, tx) =>
        {
            var now = Time(_clock.GetUtcNow());
            if (Execute(c, tx, """
                UPDATE trials SET status = $st, metrics = $m, attributes = $a, model_path = $path, error = $e,
                    finished = $now, seconds = $sec, lease_expires = NULL
                WHERE id = $id AND status = 'running' AND worker = $w
                """, ("$st", StatusText(result.Status)), ("$m", Json(result.Metrics)), ("$a", Json(result.Attributes)),
                ("$path", result.ModelPath), ("$e", result.Error), ("$now", now), ("$sec", seconds),
                ("$id", trialId), ("$w", worker)) == 1)
                return true;
            if (ReadTrials(c, tx, "id = $id", ("$id", trialId)).SingleOrDefault() is not { } t) return false;
            if (TrialRows.IsRepeat(t, worker, result)) return true;
            Execute(c, tx, """
                INSERT INTO late_results (trial_id, worker, status, metrics, seconds, recorded, reason) VALUES ($id, $w, $st, $m, $sec, $now, $why)
                """, ("$id", trialId), ("$w", worker), ("$st", StatusText(result.Status)), ("$m", Json(result.Metrics)), ("$sec", seconds),
                ("$now", now), ("$why", TrialRows.LateReason(t, worker)));
            return false;
        });
    }

    public bool Release(long trialId, string worker) => Write("release a trial in", (c, tx) => Execute(c, tx, """
        UPDATE trials SET status = 'pending', worker = NULL, started = NULL, lease_expires = NULL
        WHERE id = $id AND status = 'running' AND worker = $w
        """, ("$id", trialId), ("$w", worker)) == 1);

    public IReadOnlyList<Trial> Recover(StudyInfo study, DateTimeOffset expiredBefore, int maxInterruptions) => Write("recover trials in", (c, tx) =>
    {
        var now = _clock.GetUtcNow();
        var stale = ReadTrials(c, tx, "study_id = $s AND status = 'running' AND lease_expires < $t", ("$s", study.Id), ("$t", Time(expiredBefore)));
        foreach (var t in stale)
        {
            var r = TrialRows.Recovered(t, maxInterruptions, now);
            Execute(c, tx, """
                UPDATE trials SET status = $st, interruptions = $i, worker = $w, started = $start, lease_expires = NULL,
                    finished = $fin, error = $e WHERE id = $id
                """, ("$st", StatusText(r.Status)), ("$i", r.Interruptions), ("$w", r.Worker), ("$start", Time(r.Started)),
                ("$fin", Time(r.Finished)), ("$e", r.Error), ("$id", t.Id));
        }
        return stale.Select(t => ReadTrials(c, tx, "id = $id", ("$id", t.Id)).Single()).ToList();
    });

    public IReadOnlyList<Trial> List(StudyInfo study) =>
        Guard(() => { using var c = Open(); return ReadTrials(c, null, "study_id = $s", ("$s", study.Id)); }, "read");

    public Trial? Find(StudyInfo study, string hash, double budget) => Guard(() =>
    {
        using var c = Open();
        return ReadTrials(c, null, "study_id = $s AND hash = $h AND budget = $b", ("$s", study.Id), ("$h", hash), ("$b", budget)).SingleOrDefault();
    }, "read");

    /// <summary>Closes the pooled connections to the file, so it can be moved or removed.</summary>
    public void Dispose()
    {
        using (var c = new SqliteConnection(_connection)) SqliteConnection.ClearPool(c);
        _lock?.Dispose();
        _lock = null;
    }
}
