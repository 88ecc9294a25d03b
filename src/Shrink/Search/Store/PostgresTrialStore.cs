using Npgsql;

namespace Shrink.Search;

/// <summary>
/// A trial store on a PostgreSQL server that many machines share (<c>--storage postgresql://…</c>): the schema of
/// <see cref="TrialSchema"/> in its own PostgreSQL schema (<c>?schema=</c>, default <c>shrink</c>), every call one
/// read-committed transaction on a pooled connection. <see cref="Claim"/> takes the lowest-numbered pending trial with
/// <c>SELECT … FOR UPDATE SKIP LOCKED</c>, so racing workers never wait on each other nor get the same trial; numbering
/// in <see cref="Add"/> locks the study's row, so two coordinators never write the same number. Leases, heartbeats and
/// every time written are the server's (<c>now()</c>): workers whose clocks disagree still agree on who holds what. A
/// connection that fails is retried with backoff for <see cref="TrialStorage.Retry"/>, then refused with a
/// <see cref="TrialStoreException"/> naming the server (never the password). All its SQL lives in this class.
/// </summary>
public sealed partial class PostgresTrialStore : ITrialStore
{
    private readonly TrialStorage _where;
    private readonly NpgsqlDataSource _source;

    /// <summary>Connects to <paramref name="where"/> (retrying as it says), creating the schema and tables when missing.</summary>
    public PostgresTrialStore(TrialStorage where)
    {
        _where = where ?? throw new ArgumentNullException(nameof(where));
        if (!where.IsPostgres) throw new ArgumentException($"{where.Display} is not a PostgreSQL location", nameof(where));
        _source = NpgsqlDataSource.Create(where.ConnectionString!);
        try
        {
            CreateSchema();
        }
        catch
        {
            _source.Dispose();
            throw;
        }
    }

    /// <summary>The location, without credentials.</summary>
    public string Display => _where.Display;

    public int SchemaVersion => TrialSchema.Version;

    public StudyInfo CreateStudy(string name, SearchSpace space, string settings, string? job = null) =>
        Import(new StudyInfo(0, name, space.Json, space.Hash, settings, default, job), []);

    public StudyInfo SetJob(StudyInfo study, string? job) => Write("publish a job in", (c, tx) =>
        ReadStudies(c, tx, "WHERE id = @id", ("id", study.Id)) is [_]
            ? Execute(c, tx, "UPDATE studies SET job = @j WHERE id = @id RETURNING id", r => 0, ("j", job), ("id", study.Id)) is [_]
                ? ReadStudies(c, tx, "WHERE id = @id", ("id", study.Id)).Single() : study
            : throw new InvalidOperationException($"study '{study.Name}' is not in {Display}"));

    public IReadOnlyList<StudyInfo> Studies() => Read(c => ReadStudies(c, null, ""));

    public StudyInfo? FindStudy(string name) => Read(c => ReadStudies(c, null, "WHERE name = @n", ("n", name)).SingleOrDefault());

    public StudyInfo Import(StudyInfo study, IReadOnlyList<Trial> trials) => Unique(() => Write("write a study in", (c, tx) =>
    {
        var ids = Execute(c, tx, """
            INSERT INTO studies (name, space, space_hash, settings, created, job)
            VALUES (@n, @sp, @h, @st, CASE WHEN @keep THEN @cr ELSE now() END, @j) ON CONFLICT (name) DO NOTHING RETURNING id
            """, r => r.GetInt64(0), ("n", study.Name), ("sp", study.Space), ("h", study.SpaceHash), ("st", study.Settings),
            ("keep", study.Created != default), ("cr", study.Created == default ? DateTime.UtcNow : study.Created.UtcDateTime), ("j", study.Job));
        if (ids.Count == 0) throw new InvalidOperationException($"study '{study.Name}' exists");
        foreach (var t in trials)
            Execute(c, tx, $"""
                INSERT INTO trials (study_id, hash, {Columns.Replace("id, number", "number", StringComparison.Ordinal)})
                VALUES (@s, @h, @n, @c, @b, @st, @o, @p, @m, @a, @cr, @sa, @fi, @sec, @path, @e, @w, @l, @at, @i)
                """, ("s", ids[0]), ("h", t.Hash), ("n", t.Number), ("c", t.Configuration.Json), ("b", t.Budget), ("st", StatusText(t.Status)),
                ("o", t.Origin), ("p", t.Parent), ("m", Json(t.Metrics)), ("a", Json(t.Attributes)), ("cr", Utc(t.Created)),
                ("sa", Utc(t.Started)), ("fi", Utc(t.Finished)), ("sec", t.Seconds), ("path", t.ModelPath), ("e", t.Error),
                ("w", t.Worker), ("l", Utc(t.LeaseExpires)), ("at", t.Attempts), ("i", t.Interruptions));
        return ReadStudies(c, tx, "WHERE id = @id", ("id", ids[0])).Single();
    }), $"study '{study.Name}' exists");

    public IReadOnlyList<Trial> Add(StudyInfo study, IReadOnlyList<Proposal> proposals) => Unique(() => Write("add trials to", (c, tx) =>
    {
        Execute(c, tx, "SELECT id FROM studies WHERE id = @s FOR UPDATE", r => 0, ("s", study.Id));
        var next = Execute(c, tx, "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = @s", r => r.GetInt32(0), ("s", study.Id)).Single();
        var added = new List<Trial>();
        foreach (var p in proposals)
            added.AddRange(Execute(c, tx, $"""
                INSERT INTO trials (study_id, number, configuration, hash, budget, status, origin, parent, created)
                VALUES (@s, @n, @c, @h, @b, 'pending', @o, @p, now()) RETURNING {Columns}
                """, ReadTrial, ("s", study.Id), ("n", next++), ("c", p.Configuration.Json), ("h", p.Configuration.Hash),
                ("b", p.Budget), ("o", p.Origin), ("p", p.Parent)));
        if (added.Count > 0) NotifyPending(c, tx);
        return (IReadOnlyList<Trial>)added;
    }), $"study '{study.Name}' has a trial of one of these configurations at its budget already");

    public Trial? Claim(StudyInfo study, string worker, TimeSpan lease) => Write("claim a trial in", (c, tx) => Execute(c, tx, $"""
        UPDATE trials SET status = 'running', worker = @w, started = now(), lease_expires = now() + @lease, attempts = attempts + 1
        WHERE id = (SELECT id FROM trials WHERE study_id = @s AND status = 'pending' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING {Columns}
        """, ReadTrial, ("w", worker), ("lease", lease), ("s", study.Id)).SingleOrDefault());

    public bool Renew(long trialId, string worker, TimeSpan lease) => Write("renew a lease in", (c, tx) =>
        Execute(c, tx, "UPDATE trials SET lease_expires = now() + @lease WHERE id = @id AND status = 'running' AND worker = @w",
            ("lease", lease), ("id", trialId), ("w", worker)) == 1);

    public bool Finish(long trialId, string worker, TrialResult result, double seconds)
    {
        TrialRows.CheckFinite(result);
        return Write("finish a trial in", (c, tx) =>
        {
            if (Execute(c, tx, """
                UPDATE trials SET status = @st, metrics = @m, attributes = @a, model_path = @path, error = @e,
                    finished = now(), seconds = @sec, lease_expires = NULL
                WHERE id = @id AND status = 'running' AND worker = @w
                """, ("st", StatusText(result.Status)), ("m", Json(result.Metrics)), ("a", Json(result.Attributes)),
                ("path", result.ModelPath), ("e", result.Error), ("sec", seconds), ("id", trialId), ("w", worker)) == 1)
                return true;
            if (LockTrials(c, tx, "FOR UPDATE", "id = @id", ("id", trialId)).SingleOrDefault() is not { } t) return false;
            if (TrialRows.IsRepeat(t, worker, result)) return true;
            Execute(c, tx, """
                INSERT INTO late_results (trial_id, worker, status, metrics, seconds, recorded, reason) VALUES (@id, @w, @st, @m, @sec, now(), @why)
                """, ("id", trialId), ("w", worker), ("st", StatusText(result.Status)), ("m", Json(result.Metrics)), ("sec", seconds),
                ("why", TrialRows.LateReason(t, worker)));
            return false;
        });
    }

    public bool Release(long trialId, string worker) => Write("release a trial in", (c, tx) =>
    {
        var released = Execute(c, tx, """
            UPDATE trials SET status = 'pending', worker = NULL, started = NULL, lease_expires = NULL
            WHERE id = @id AND status = 'running' AND worker = @w
            """, ("id", trialId), ("w", worker)) == 1;
        if (released) NotifyPending(c, tx);
        return released;
    });

    /// <summary>As the contract says, with the lease compared to the server's clock unless <paramref name="expiredBefore"/> is <see cref="DateTimeOffset.MaxValue"/>.</summary>
    public IReadOnlyList<Trial> Recover(StudyInfo study, DateTimeOffset expiredBefore, int maxInterruptions) => Write("recover trials in", (c, tx) =>
    {
        var now = Execute(c, tx, "SELECT now()", r => new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(0), DateTimeKind.Utc))).Single();
        var stale = LockTrials(c, tx, "FOR UPDATE SKIP LOCKED", "study_id = @s AND status = 'running' AND (@all OR lease_expires < now())",
            ("s", study.Id), ("all", expiredBefore == DateTimeOffset.MaxValue));
        foreach (var t in stale)
        {
            var r = TrialRows.Recovered(t, maxInterruptions, now);
            Execute(c, tx, """
                UPDATE trials SET status = @st, interruptions = @i, worker = @w, started = @start, lease_expires = NULL,
                    finished = @fin, error = @e WHERE id = @id
                """, ("st", StatusText(r.Status)), ("i", r.Interruptions), ("w", r.Worker), ("start", Utc(r.Started)),
                ("fin", Utc(r.Finished)), ("e", r.Error), ("id", t.Id));
        }
        if (stale.Count > 0) NotifyPending(c, tx);   // given back as pending (or failed: a wake with nothing to claim costs one look)
        return (IReadOnlyList<Trial>)stale.Select(t => ReadTrials(c, tx, "id = @id", ("id", t.Id)).Single()).ToList();
    });

    public IReadOnlyList<Trial> List(StudyInfo study) => Read(c => ReadTrials(c, null, "study_id = @s", ("s", study.Id)));

    public Trial? Find(StudyInfo study, string hash, double budget) =>
        Read(c => ReadTrials(c, null, "study_id = @s AND hash = @h AND budget = @b", ("s", study.Id), ("h", hash), ("b", budget)).SingleOrDefault());

    public void Heartbeat(WorkerRecord worker) => Write("record a heartbeat in", (c, tx) => Execute(c, tx, """
        INSERT INTO workers (name, role, host, pid, version, threads, started, heartbeat, finished, study)
        VALUES (@n, @r, @h, @p, @v, @t, now(), now(), @f, @st)
        ON CONFLICT (name) DO UPDATE SET role = @r, host = @h, pid = @p, version = @v, threads = @t, heartbeat = now(), finished = @f, study = @st
        """, ("n", worker.Name), ("r", worker.Role), ("h", worker.Host), ("p", worker.Pid), ("v", worker.Version), ("t", worker.Threads),
        ("f", worker.Finished), ("st", worker.Study)));

    public IReadOnlyList<WorkerRecord> Workers() => Read(c =>
        Execute(c, null, "SELECT name, role, host, pid, version, threads, started, heartbeat, finished, study FROM workers ORDER BY heartbeat DESC", ReadWorker));

    public IReadOnlyList<LateResult> LateResults(StudyInfo study) => Read(c => Execute(c, null, """
        SELECT l.trial_id, t.number, l.worker, l.status, l.metrics, l.seconds, l.recorded, l.reason
        FROM late_results l JOIN trials t ON t.id = l.trial_id WHERE t.study_id = @s ORDER BY l.id
        """, r => new LateResult(r.GetInt64(0), r.GetInt32(1), r.GetString(2), ParseStatus(r.GetString(3)), r.GetString(4), r.GetDouble(5),
        Time(r, 6)!.Value, r.GetString(7)), ("s", study.Id)));

    public DateTimeOffset Now() => Read(c => Execute(c, null, "SELECT now()", r => Time(r, 0)!.Value).Single());

    /// <summary>One pooled connection and a transaction for every call of this flow until disposed, then rolled back (<see cref="ITrialStore.Scratch"/>).</summary>
    public IDisposable? Scratch()
    {
        if (_scratch.Value is not null) throw new InvalidOperationException("a scratch scope of this store is open already in this flow");
        var (connection, transaction) = Retrying("open a scratch transaction in", () =>
        {
            var c = _source.OpenConnection();
            try
            {
                return (c, c.BeginTransaction());
            }
            catch
            {
                c.Dispose();
                throw;
            }
        });
        var scope = new ScratchScope(this, connection, transaction);
        _scratch.Value = scope;
        return scope;
    }

    public void Dispose()
    {
        DisposeListener();
        _source.Dispose();
    }

    /// <summary>A unique violation (a study or a (hash, budget) that exists) as the contract's <see cref="InvalidOperationException"/>.</summary>
    private static T Unique<T>(Func<T> body, string message)
    {
        try
        {
            return body();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException(message, e);
        }
    }
}
