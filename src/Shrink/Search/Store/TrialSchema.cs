namespace Shrink.Search;

/// <summary>
/// The one logical schema every trial store writes (<see cref="SqliteTrialStore"/>, <see cref="PostgresTrialStore"/>), the
/// same tables and columns in each database's types:
/// <list type="bullet">
/// <item><c>schema_version (version)</c>: one row, <see cref="Version"/>.</item>
/// <item><c>studies (id, name unique, space, space_hash, settings, created, job)</c>.</item>
/// <item><c>trials (id, study_id, number, configuration, hash, budget, status, origin, parent, metrics, attributes,
/// created, started, finished, seconds, model_path, error, worker, lease_expires, attempts, interruptions)</c>, unique
/// on (study_id, number) and on (study_id, hash, budget): the content hash is what makes a proposal a duplicate.</item>
/// <item><c>workers (name, role, host, pid, version, threads, started, heartbeat, finished, study)</c>.</item>
/// <item><c>late_results (id, trial_id, worker, status, metrics, seconds, recorded, reason)</c>.</item>
/// </list>
/// Version history: 1, studies and trials; 2 adds <c>studies.job</c>, <c>workers</c> and <c>late_results</c> (an
/// SQLite file of version 1 is upgraded in place when opened). <c>shrink study migrate</c> moves studies between stores.
/// </summary>
public static class TrialSchema
{
    /// <summary>The schema version this Shrink writes.</summary>
    public const int Version = 2;

    /// <summary>The columns of <c>trials</c> a store reads a trial from, in the order its row reader takes them.</summary>
    internal const string TrialColumns = """
        id, number, configuration, budget, status, origin, parent, metrics, attributes, created, started, finished,
        seconds, model_path, error, worker, lease_expires, attempts, interruptions
        """;

    /// <summary>The one-line refusal of a shared store whose schema is another version.</summary>
    public static string Mismatch(string store, long found) => found > Version
        ? $"the trial store {store} has schema version {found}, and this Shrink writes version {Version}: use the Shrink that wrote it (or a newer one), or move the studies to a new store with `shrink study migrate FROM TO` of that Shrink"
        : $"the trial store {store} has schema version {found}, and this Shrink writes version {Version}: move its studies to a new store with `shrink study migrate {store} NEW-STORE`";
}
