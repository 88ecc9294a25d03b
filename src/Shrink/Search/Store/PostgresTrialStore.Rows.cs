using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;

namespace Shrink.Search;

public sealed partial class PostgresTrialStore
{
    private const string Columns = TrialSchema.TrialColumns;

    /// <summary>The logical schema of <see cref="TrialSchema"/> in PostgreSQL's types (times are <c>timestamptz</c>).</summary>
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
        CREATE TABLE IF NOT EXISTS studies (
            id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, space text NOT NULL, space_hash text NOT NULL,
            settings text NOT NULL, created timestamptz NOT NULL, job text);
        CREATE TABLE IF NOT EXISTS trials (
            id bigserial PRIMARY KEY, study_id bigint NOT NULL REFERENCES studies (id), number integer NOT NULL,
            configuration text NOT NULL, hash text NOT NULL, budget double precision NOT NULL, status text NOT NULL,
            origin text NOT NULL, parent integer, metrics text, attributes text, created timestamptz NOT NULL,
            started timestamptz, finished timestamptz, seconds double precision, model_path text, error text, worker text,
            lease_expires timestamptz, attempts integer NOT NULL DEFAULT 0, interruptions integer NOT NULL DEFAULT 0,
            UNIQUE (study_id, number), UNIQUE (study_id, hash, budget));
        CREATE INDEX IF NOT EXISTS trials_by_status ON trials (study_id, status, number);
        CREATE TABLE IF NOT EXISTS workers (
            name text PRIMARY KEY, role text NOT NULL, host text NOT NULL, pid integer NOT NULL, version text NOT NULL,
            threads integer NOT NULL, started timestamptz NOT NULL, heartbeat timestamptz NOT NULL, finished integer NOT NULL, study text);
        CREATE TABLE IF NOT EXISTS late_results (
            id bigserial PRIMARY KEY, trial_id bigint NOT NULL REFERENCES trials (id), worker text NOT NULL, status text NOT NULL,
            metrics text NOT NULL, seconds double precision NOT NULL, recorded timestamptz NOT NULL, reason text NOT NULL);
        """;

    /// <summary>Creates the schema and its tables once, under an advisory lock (many workers may start at once), and checks the version; a store whose tables exist needs only the rights to read and write them.</summary>
    private void CreateSchema() => Write("open", (c, tx) =>
    {
        Execute(c, tx, "SELECT pg_advisory_xact_lock(7061676)");
        // DDL only where something is missing: CREATE SCHEMA (even IF NOT EXISTS) needs CREATE on the database, which a role
        // that owns only its schema lacks, and CREATE INDEX IF NOT EXISTS needs to own the table, which a worker's role
        // granted only reads and writes on the tables does not.
        if (Execute(c, tx, "SELECT 1 FROM pg_namespace WHERE nspname = @s", r => 1, ("s", _where.Schema)).Count == 0)
            Execute(c, tx, $"CREATE SCHEMA {_where.Schema}");
        Execute(c, tx, $"SET LOCAL search_path TO {_where.Schema}");
        if (!Execute(c, tx, "SELECT to_regclass(@t) IS NOT NULL", r => r.GetBoolean(0), ("t", $"{_where.Schema}.schema_version")).Single())
            Execute(c, tx, Schema);
        var version = Execute(c, tx, "SELECT MAX(version) FROM schema_version", r => r.IsDBNull(0) ? (long?)null : r.GetInt32(0)).Single();
        if (version is null) Execute(c, tx, "INSERT INTO schema_version (version) VALUES (@v)", ("v", TrialSchema.Version));
        else if (version != TrialSchema.Version) throw new TrialStoreException(TrialSchema.Mismatch(_where.Display, version.Value));
        return 0;
    });

    /// <summary>
    /// Runs <paramref name="body"/> in one transaction (read committed: every claim locks the rows it takes). A connection
    /// that fails (the server restarting, the network dropping) is retried with backoff up to <see cref="TrialStorage.Retry"/>.
    /// </summary>
    private T Write<T>(string doing, Func<NpgsqlConnection, NpgsqlTransaction, T> body) => _scratch.Value is { } scratch
        ? Retrying(doing, () => body(scratch.Connection, scratch.Transaction), retry: false)
        : Retrying(doing, () =>
        {
            using var c = _source.OpenConnection();
            using var tx = c.BeginTransaction();
            var result = body(c, tx);
            tx.Commit();
            return result;
        });

    private T Read<T>(Func<NpgsqlConnection, T> body) => _scratch.Value is { } scratch
        ? Retrying("read", () => body(scratch.Connection), retry: false)
        : Retrying("read", () =>
        {
            using var c = _source.OpenConnection();
            return body(c);
        });

    /// <summary>The open <see cref="Scratch"/> scope of this flow of control: its connection and the transaction it rolls back.</summary>
    private readonly AsyncLocal<ScratchScope?> _scratch = new();

    /// <summary>A connection and transaction every call of the flow that opened it uses; disposing rolls it back (nothing it wrote is kept).</summary>
    private sealed class ScratchScope(PostgresTrialStore store, NpgsqlConnection connection, NpgsqlTransaction transaction) : IDisposable
    {
        public NpgsqlConnection Connection { get; } = connection;
        public NpgsqlTransaction Transaction { get; } = transaction;

        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (store._scratch.Value == this) store._scratch.Value = null;
            try
            {
                Transaction.Rollback();
            }
            catch (Exception e) when (IsTransient(e) || e is InvalidOperationException)
            {
                // the connection dropped: the server ends the transaction itself, keeping nothing
            }
            finally
            {
                Transaction.Dispose();
                Connection.Dispose();
            }
        }
    }

    /// <summary>Runs <paramref name="body"/>; a transient failure is retried with backoff for <see cref="TrialStorage.Retry"/> (unless <paramref name="retry"/> is false: a scratch transaction cannot go on after one) and then refused, as any other server error, with one line.</summary>
    private T Retrying<T>(string doing, Func<T> body, bool retry = true)
    {
        var clock = Stopwatch.StartNew();
        var wait = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return body();
            }
            catch (Exception e) when (retry && IsTransient(e) && clock.Elapsed + wait < _where.Retry)
            {
                Thread.Sleep(wait);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
            catch (Exception e) when (IsTransient(e))
            {
                throw new TrialStoreException($"cannot {doing} the trial store {_where.Display}: {Cause(e)}; retried for {clock.Elapsed.TotalSeconds:0} s (set ?retry=SECONDS in the URL to wait longer)", e);
            }
            catch (PostgresException e) when (e.SqlState != PostgresErrorCodes.UniqueViolation)
            {
                throw new TrialStoreException($"cannot {doing} the trial store {_where.Display}: {Text.Message.OneLine(e.MessageText, 300)} (SQLSTATE {e.SqlState})", e);
            }
        }
    }

    /// <summary>True for a failure that may pass: no connection, a dropped one, a server starting or stopping, a serialization retry.</summary>
    internal static bool IsTransient(Exception e) => e switch
    {
        PostgresException p => p.SqlState is PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.AdminShutdown
            or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.TooManyConnections || p.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException n => n.IsTransient || n.InnerException is SocketException or IOException or TimeoutException,
        _ => false,
    };

    private static string Cause(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is SocketException s) return $"no connection ({s.SocketErrorCode})";
        return Text.Message.OneLine(e is PostgresException p ? p.MessageText : e.Message, 200);
    }

    private static NpgsqlCommand Command(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, (string Name, object? Value)[] args)
    {
        var command = new NpgsqlCommand(sql, c, tx);
        foreach (var (name, value) in args) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private static int Execute(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var command = Command(c, tx, sql, args);
        return command.ExecuteNonQuery();
    }

    private static List<T> Execute<T>(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, Func<NpgsqlDataReader, T> read, params (string, object?)[] args)
    {
        using var command = Command(c, tx, sql, args);
        using var r = command.ExecuteReader();
        var rows = new List<T>();
        while (r.Read()) rows.Add(read(r));
        return rows;
    }

    private static List<Trial> ReadTrials(NpgsqlConnection c, NpgsqlTransaction? tx, string where, params (string, object?)[] args) =>
        Execute(c, tx, $"SELECT {Columns} FROM trials WHERE {where} ORDER BY number", ReadTrial, args);

    /// <summary>The trials <paramref name="where"/> says, locked for this transaction (<paramref name="lockClause"/>: <c>FOR UPDATE</c>, <c>… SKIP LOCKED</c>).</summary>
    private static List<Trial> LockTrials(NpgsqlConnection c, NpgsqlTransaction tx, string lockClause, string where, params (string, object?)[] args) =>
        Execute(c, tx, $"SELECT {Columns} FROM trials WHERE {where} ORDER BY number {lockClause}", ReadTrial, args);

    private static List<StudyInfo> ReadStudies(NpgsqlConnection c, NpgsqlTransaction? tx, string where, params (string, object?)[] args) =>
        Execute(c, tx, $"SELECT id, name, space, space_hash, settings, created, job FROM studies {where} ORDER BY id", r =>
            new StudyInfo(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), Time(r, 5)!.Value, Str(r, 6)), args);

    private static Trial ReadTrial(NpgsqlDataReader r) => new()
    {
        Id = r.GetInt64(0), Number = r.GetInt32(1), Configuration = Configuration.FromJson(r.GetString(2)), Budget = r.GetDouble(3),
        Status = ParseStatus(r.GetString(4)), Origin = r.GetString(5), Parent = r.IsDBNull(6) ? null : r.GetInt32(6),
        Metrics = r.IsDBNull(7) ? new Dictionary<string, double>() : JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(7))!,
        Attributes = r.IsDBNull(8) ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(8))!,
        Created = Time(r, 9)!.Value, Started = Time(r, 10), Finished = Time(r, 11),
        Seconds = r.IsDBNull(12) ? null : r.GetDouble(12), ModelPath = Str(r, 13), Error = Str(r, 14),
        Worker = Str(r, 15), LeaseExpires = Time(r, 16), Attempts = r.GetInt32(17), Interruptions = r.GetInt32(18),
    };

    private static WorkerRecord ReadWorker(NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
        r.GetString(4), r.GetInt32(5), Time(r, 6)!.Value, Time(r, 7)!.Value, r.GetInt32(8), Str(r, 9));

    private static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? Time(NpgsqlDataReader r, int i) =>
        r.IsDBNull(i) ? null : new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(i), DateTimeKind.Utc));

    private static object? Utc(DateTimeOffset? t) => t?.UtcDateTime;

    private static string Json<T>(IReadOnlyDictionary<string, T> values) => JsonSerializer.Serialize(values);

    private static string StatusText(TrialStatus status) => status.ToString().ToLowerInvariant();

    private static TrialStatus ParseStatus(string text) => Enum.Parse<TrialStatus>(text, ignoreCase: true);
}
