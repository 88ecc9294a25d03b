using System.Globalization;
using Npgsql;

namespace Shrink.Search;

/// <summary>
/// Where a trial store is, as <c>--storage</c> names it: <c>postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?schema=S&amp;sslmode=M&amp;retry=SECONDS&amp;…]</c>
/// (also <c>postgres://</c>) for a PostgreSQL server that many machines share, or <c>sqlite:PATH</c> / a plain path for an
/// SQLite file. A password is better left out of the URL: Npgsql reads <c>PGPASSWORD</c> and <c>~/.pgpass</c>. What
/// <see cref="Display"/> shows never holds the password.
/// </summary>
public sealed record TrialStorage
{
    private TrialStorage() { }

    /// <summary>The Npgsql connection string (PostgreSQL), else null.</summary>
    public string? ConnectionString { get; private init; }

    /// <summary>The SQLite file, else null.</summary>
    public string? SqlitePath { get; private init; }

    /// <summary>The PostgreSQL schema that holds the tables (<c>?schema=</c>, default <c>shrink</c>).</summary>
    public string Schema { get; private init; } = "shrink";

    /// <summary>How long an unreachable server is retried, with backoff, before giving up (<c>?retry=SECONDS</c>, default 60).</summary>
    public TimeSpan Retry { get; private init; } = TimeSpan.FromSeconds(60);

    /// <summary>The location without credentials, for messages, logs and reports.</summary>
    public string Display { get; private init; } = "";

    public bool IsPostgres => ConnectionString is not null;

    private static readonly HashSet<string> Ours = ["schema", "retry"];

    /// <summary>Parses <paramref name="text"/>; a malformed location is an <see cref="OptionsException"/> naming what is wrong.</summary>
    public static TrialStorage Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var rest = text["sqlite:".Length..];
            return Sqlite(rest.StartsWith("//", StringComparison.Ordinal) ? rest[2..] : rest);   // sqlite:///abs, sqlite:/abs and sqlite:rel
        }
        if (!text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            if (text.Contains("://", StringComparison.Ordinal))
                throw new OptionsException($"--storage {Redact(text)} is not a store Shrink knows; give postgresql://HOST/DATABASE or an SQLite file (sqlite:PATH)");
            return Sqlite(text);
        }
        return Postgres(text);
    }

    private static TrialStorage Sqlite(string path)
    {
        if (path.Length == 0) throw new OptionsException("--storage sqlite: names no file; give sqlite:PATH/trials.db");
        var full = Path.GetFullPath(path);
        return new TrialStorage { SqlitePath = full, Display = "sqlite:" + full };
    }

    private static TrialStorage Postgres(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            throw new OptionsException($"--storage {Redact(text)} is not a URL Shrink can read; give postgresql://[USER@]HOST[:PORT]/DATABASE");
        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
            throw new OptionsException($"--storage {Redact(text)} names no database; give postgresql://HOST/DATABASE");
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host, Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port, Database = database,
            ApplicationName = "shrink", Timeout = 5, CommandTimeout = 60,
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            b.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) b.Password = Uri.UnescapeDataString(parts[1]);
        }
        var (schema, retry) = ("shrink", 60.0);
        foreach (var (key, value) in Query(uri.Query))
        {
            if (key == "schema") schema = CheckSchema(value, text);
            else if (key == "retry") retry = Seconds(value, text);
            else
            {
                try { b[key] = value; }
                catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
                {
                    throw new OptionsException($"--storage {Redact(text)}: '{key}={value}' is not a connection setting Npgsql takes ({Text.Message.OneLine(e.Message, 200)})");
                }
            }
        }
        b.SearchPath = schema;
        var display = $"postgresql://{(b.Username is { Length: > 0 } u ? Uri.EscapeDataString(u) + "@" : "")}{uri.Host}:{b.Port}/{Uri.EscapeDataString(database)}?schema={schema}";
        return new TrialStorage { ConnectionString = b.ConnectionString, Schema = schema, Retry = TimeSpan.FromSeconds(retry), Display = display };
    }

    private static IEnumerable<(string Key, string Value)> Query(string query)
    {
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            yield return (Uri.UnescapeDataString(kv[0]).ToLowerInvariant(), kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "");
        }
    }

    private static string CheckSchema(string value, string text) =>
        value.Length is > 0 and <= 63 && value.All(ch => ch is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_') && !char.IsDigit(value[0])
            ? value
            : throw new OptionsException($"--storage {Redact(text)}: schema '{value}' must be lower-case letters, digits and _ (at most 63, not starting with a digit)");

    private static double Seconds(string value, string text) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0 && double.IsFinite(s)
            ? s
            : throw new OptionsException($"--storage {Redact(text)}: retry={value} must be a number of seconds, 0 or more");

    /// <summary><paramref name="text"/> with any password replaced by ***.</summary>
    public static string Redact(string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (at < 0 || scheme < 0 || at < scheme) return text;
        var colon = text.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? text[..(colon + 1)] + "***" + text[at..] : text;
    }

    /// <summary>Opens the store (creating its tables when missing).</summary>
    public ITrialStore Open(TimeProvider? clock = null) =>
        IsPostgres ? new PostgresTrialStore(this) : new SqliteTrialStore(SqlitePath!, clock);

    public override string ToString() => Display;
}
