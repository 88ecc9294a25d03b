using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Shrink.Search;

public sealed partial class SqliteTrialStore
{
    private const string Columns = TrialSchema.TrialColumns;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS studies (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL, space_hash TEXT NOT NULL,
            settings TEXT NOT NULL, created TEXT NOT NULL, job TEXT);
        CREATE TABLE IF NOT EXISTS trials (
            id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies (id), number INTEGER NOT NULL,
            configuration TEXT NOT NULL, hash TEXT NOT NULL, budget REAL NOT NULL, status TEXT NOT NULL,
            origin TEXT NOT NULL, parent INTEGER, metrics TEXT, attributes TEXT, created TEXT NOT NULL,
            started TEXT, finished TEXT, seconds REAL, model_path TEXT, error TEXT, worker TEXT, lease_expires TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, interruptions INTEGER NOT NULL DEFAULT 0,
            UNIQUE (study_id, number), UNIQUE (study_id, hash, budget));
        CREATE INDEX IF NOT EXISTS trials_by_status ON trials (study_id, status, number);
        """ + V2Tables;

    /// <summary>What version 2 adds to version 1 (besides <c>studies.job</c>): the workers' heartbeats and the late results.</summary>
    private const string V2Tables = """
        CREATE TABLE IF NOT EXISTS workers (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, version TEXT NOT NULL,
            threads INTEGER NOT NULL, started TEXT NOT NULL, heartbeat TEXT NOT NULL, finished INTEGER NOT NULL, study TEXT);
        CREATE TABLE IF NOT EXISTS late_results (
            id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL REFERENCES trials (id), worker TEXT NOT NULL, status TEXT NOT NULL,
            metrics TEXT NOT NULL, seconds REAL NOT NULL, recorded TEXT NOT NULL, reason TEXT NOT NULL);
        """;

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connection);
        c.Open();
        Execute(c, null, $"PRAGMA busy_timeout = {c.DefaultTimeout * 1000}; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
        return c;
    }

    private void CreateSchema(SqliteConnection c)
    {
        Execute(c, null, "PRAGMA journal_mode = WAL;");
        using var tx = c.BeginTransaction();
        Execute(c, tx, Schema);
        var version = ScalarOrNull(c, tx, "SELECT MAX(version) FROM schema_version");
        if (version is null) Execute(c, tx, "INSERT INTO schema_version (version) VALUES ($v)", ("$v", Version));
        else if (version > Version)
            throw new TrialStoreException($"'{Path}' has trial-store schema version {version}; this Shrink reads up to {Version}: use a newer Shrink, or move the study with `shrink study migrate` of that Shrink");
        else if (version == 1) UpgradeFrom1(c, tx);
        tx.Commit();
    }

    /// <summary>Version 1 → 2 in place (additive: a column and two tables), as any open of an older run directory does.</summary>
    private static void UpgradeFrom1(SqliteConnection c, SqliteTransaction tx)
    {
        if (Scalar(c, tx, "SELECT COUNT(*) FROM pragma_table_info('studies') WHERE name = 'job'") == 0)
            Execute(c, tx, "ALTER TABLE studies ADD COLUMN job TEXT");
        Execute(c, tx, V2Tables);
        Execute(c, tx, "UPDATE schema_version SET version = $v", ("$v", Version));
    }

    private T Write<T>(string doing, Func<SqliteConnection, SqliteTransaction, T> body) => Guard(() =>
    {
        using var c = Open();
        using var tx = c.BeginTransaction();  // BEGIN IMMEDIATE: the write lock first, so two writers never deadlock
        var result = body(c, tx);
        tx.Commit();
        return result;
    }, doing);

    private T Guard<T>(Func<T> body, string doing)
    {
        try
        {
            return body();
        }
        catch (SqliteException e) when (Cause(e.SqliteErrorCode) is { } cause)
        {
            throw new TrialStoreException($"cannot {doing} the trial store '{Path}': {cause}", e);
        }
    }

    private static string? Cause(int code) => code switch
    {
        3 or 8 => "permission denied or read-only; write the run elsewhere",
        5 or 6 => "another process kept it locked past the busy timeout; stop the other run or wait",
        10 or 14 => "the file cannot be opened or read; check the run directory",
        11 or 26 => "it is not a trial store (not an SQLite database, or damaged); give another run directory",
        13 => "the disk is full; free some disk space",
        _ => null,
    };

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, (string Name, object? Value)[] args)
    {
        var command = c.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in args) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private static int Execute(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var command = Command(c, tx, sql, args);
        return command.ExecuteNonQuery();
    }

    private static long Scalar(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args) =>
        ScalarOrNull(c, tx, sql, args) ?? throw new InvalidOperationException($"no value from: {sql}");

    private static long? ScalarOrNull(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var command = Command(c, tx, sql, args);
        return command.ExecuteScalar() is { } v and not DBNull ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : null;
    }

    private static StudyInfo? ReadStudy(SqliteConnection c, SqliteTransaction? tx, string name) =>
        ReadStudies(c, tx, "WHERE name = $n", ("$n", name)).SingleOrDefault();

    private static List<StudyInfo> ReadStudies(SqliteConnection c, SqliteTransaction? tx, string where, params (string, object?)[] args)
    {
        using var command = Command(c, tx, $"SELECT id, name, space, space_hash, settings, created, job FROM studies {where} ORDER BY id", args);
        using var r = command.ExecuteReader();
        var studies = new List<StudyInfo>();
        while (r.Read())
            studies.Add(new StudyInfo(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), ParseTime(r.GetString(5)), OptionalString(r, 6)));
        return studies;
    }

    private static List<WorkerRecord> ReadWorkers(SqliteConnection c)
    {
        using var command = Command(c, null, "SELECT name, role, host, pid, version, threads, started, heartbeat, finished, study FROM workers ORDER BY heartbeat DESC", []);
        using var r = command.ExecuteReader();
        var workers = new List<WorkerRecord>();
        while (r.Read())
            workers.Add(new WorkerRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetInt32(5),
                ParseTime(r.GetString(6)), ParseTime(r.GetString(7)), r.GetInt32(8), OptionalString(r, 9)));
        return workers;
    }

    private static List<LateResult> ReadLate(SqliteConnection c, long study)
    {
        using var command = Command(c, null, """
            SELECT l.trial_id, t.number, l.worker, l.status, l.metrics, l.seconds, l.recorded, l.reason
            FROM late_results l JOIN trials t ON t.id = l.trial_id WHERE t.study_id = $s ORDER BY l.id
            """, [("$s", study)]);
        using var r = command.ExecuteReader();
        var late = new List<LateResult>();
        while (r.Read())
            late.Add(new LateResult(r.GetInt64(0), r.GetInt32(1), r.GetString(2), ParseStatus(r.GetString(3)), r.GetString(4), r.GetDouble(5), ParseTime(r.GetString(6)), r.GetString(7)));
        return late;
    }

    private static List<Trial> ReadTrials(SqliteConnection c, SqliteTransaction? tx, string where, params (string, object?)[] args)
    {
        using var command = Command(c, tx, $"SELECT {Columns} FROM trials WHERE {where} ORDER BY number", args);
        using var r = command.ExecuteReader();
        var trials = new List<Trial>();
        while (r.Read()) trials.Add(ReadTrial(r));
        return trials;
    }

    private static Trial ReadTrial(SqliteDataReader r) => new()
    {
        Id = r.GetInt64(0), Number = r.GetInt32(1), Configuration = Configuration.FromJson(r.GetString(2)), Budget = r.GetDouble(3),
        Status = ParseStatus(r.GetString(4)), Origin = r.GetString(5), Parent = r.IsDBNull(6) ? null : r.GetInt32(6),
        Metrics = r.IsDBNull(7) ? new Dictionary<string, double>() : JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(7))!,
        Attributes = r.IsDBNull(8) ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(8))!,
        Created = ParseTime(r.GetString(9)), Started = OptionalTime(r, 10), Finished = OptionalTime(r, 11),
        Seconds = r.IsDBNull(12) ? null : r.GetDouble(12), ModelPath = OptionalString(r, 13), Error = OptionalString(r, 14),
        Worker = OptionalString(r, 15), LeaseExpires = OptionalTime(r, 16), Attempts = r.GetInt32(17), Interruptions = r.GetInt32(18),
    };

    private static string? OptionalString(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? OptionalTime(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : ParseTime(r.GetString(i));

    private static string? Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static string Json<T>(IReadOnlyDictionary<string, T> values) => JsonSerializer.Serialize(values);

    private static string StatusText(TrialStatus status) => status.ToString().ToLowerInvariant();

    private static TrialStatus ParseStatus(string text) => Enum.Parse<TrialStatus>(text, ignoreCase: true);
}
