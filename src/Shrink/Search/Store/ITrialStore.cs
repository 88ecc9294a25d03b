namespace Shrink.Search;

/// <summary>
/// A study as a store keeps it: its space (canonical JSON and hash), the caller's settings (JSON) and, for a study that
/// workers on other machines evaluate, its job (<see cref="TrialJob"/> JSON: what a worker needs to run its trials).
/// </summary>
public sealed record StudyInfo(long Id, string Name, string Space, string SpaceHash, string Settings, DateTimeOffset Created, string? Job = null);

/// <summary>
/// A worker (or coordinator) as the store last heard of it: <see cref="Heartbeat"/> is stamped by the store's clock;
/// <see cref="Role"/> is "worker", "coordinator", or <see cref="Stopped"/> once it ended cleanly.
/// </summary>
public sealed record WorkerRecord(string Name, string Role, string Host, int Pid, string Version, int Threads, DateTimeOffset Started,
    DateTimeOffset Heartbeat, int Finished, string? Study)
{
    /// <summary>The role of a worker or coordinator that ended cleanly.</summary>
    public const string Stopped = "stopped";
}

/// <summary>A result that arrived after its worker lost the claim (its lease ended and the trial went to another): kept, not used.</summary>
public sealed record LateResult(long TrialId, int Number, string Worker, TrialStatus Status, string Metrics, double Seconds, DateTimeOffset Recorded, string Reason);

/// <summary>
/// Where a search keeps its studies and trials. Each trial is written before it runs, so a crash loses nothing
/// that finished. The contract, the same for every implementation (embedded SQLite here; a server database that
/// many machines share later):
/// <list type="bullet">
/// <item><see cref="Add"/> writes pending trials in one transaction, numbered on from the study's last trial, in
/// the given order; (hash, budget) is unique in a study and a duplicate refuses the whole batch.</item>
/// <item><see cref="Claim"/> is atomic: of all claimers racing, exactly one gets a given pending trial (the
/// lowest-numbered one), which becomes running with the worker, the start time and a lease that ends
/// <c>lease</c> from now; its attempt count goes up by one.</item>
/// <item>A claim holds while the lease runs: <see cref="Renew"/> (a heartbeat) extends it,
/// <see cref="Finish"/> ends it with completed, failed or pruned, <see cref="Release"/> gives it back as pending
/// (a cancelled run). Each returns false, and changes nothing, when the worker no longer holds the claim.</item>
/// <item><see cref="Recover"/> gives back the running trials whose lease ended before <c>expiredBefore</c>
/// (their worker died): pending again with one more interruption, or failed once they reach
/// <c>maxInterruptions</c> (a configuration that kills its process is not retried for ever). A coordinator that
/// knows it is alone (the local runner, which holds the run directory's lock) passes
/// <see cref="DateTimeOffset.MaxValue"/>: every running trial is a dead run's.</item>
/// <item><see cref="Finish"/> is idempotent: the same result again from the worker that wrote it returns true and
/// changes nothing; any other result for a trial the worker no longer holds is kept in the late results
/// (<see cref="LateResults"/>) and changes nothing else.</item>
/// <item>Every write is one transaction; readers see whole writes only. Times are UTC. A store shared by many machines
/// (<see cref="PostgresTrialStore"/>) measures leases and heartbeats by its server's clock, so the workers' clocks may
/// disagree; there <see cref="Recover"/> compares with the server's time unless given <see cref="DateTimeOffset.MaxValue"/>.</item>
/// </list>
/// </summary>
public interface ITrialStore : IDisposable
{
    /// <summary>The version of the store's schema this implementation writes.</summary>
    int SchemaVersion { get; }

    /// <summary>A new study named <paramref name="name"/> (<see cref="InvalidOperationException"/> when one exists), with its job (null: run here only).</summary>
    StudyInfo CreateStudy(string name, SearchSpace space, string settings, string? job = null);

    /// <summary>Replaces the job of <paramref name="study"/> (a coordinator restarted with --resume publishes its own).</summary>
    StudyInfo SetJob(StudyInfo study, string? job);

    /// <summary>Every study, in creation order.</summary>
    IReadOnlyList<StudyInfo> Studies();

    /// <summary>The study named <paramref name="name"/>, or null.</summary>
    StudyInfo? FindStudy(string name);

    /// <summary>Writes <paramref name="proposals"/> as pending trials, numbered in order, in one transaction.</summary>
    IReadOnlyList<Trial> Add(StudyInfo study, IReadOnlyList<Proposal> proposals);

    /// <summary>Claims the lowest-numbered pending trial for <paramref name="worker"/>, or null when none is pending.</summary>
    Trial? Claim(StudyInfo study, string worker, TimeSpan lease);

    /// <summary>Extends <paramref name="worker"/>'s lease on a running trial to <paramref name="lease"/> from now.</summary>
    bool Renew(long trialId, string worker, TimeSpan lease);

    /// <summary>Ends <paramref name="worker"/>'s claim with <paramref name="result"/> (metrics finite) and the seconds the evaluation took.</summary>
    bool Finish(long trialId, string worker, TrialResult result, double seconds);

    /// <summary>Gives <paramref name="worker"/>'s running trial back as pending, not counted as an interruption.</summary>
    bool Release(long trialId, string worker);

    /// <summary>Gives back (or fails) the running trials whose lease ended before <paramref name="expiredBefore"/>; returns them as they are now.</summary>
    IReadOnlyList<Trial> Recover(StudyInfo study, DateTimeOffset expiredBefore, int maxInterruptions);

    /// <summary>Every trial of the study in number order.</summary>
    IReadOnlyList<Trial> List(StudyInfo study);

    /// <summary>The trial of (<paramref name="hash"/>, <paramref name="budget"/>), or null.</summary>
    Trial? Find(StudyInfo study, string hash, double budget);

    /// <summary>Writes (or refreshes) <paramref name="worker"/>'s row; the heartbeat is stamped with the store's clock.</summary>
    void Heartbeat(WorkerRecord worker);

    /// <summary>Every worker and coordinator that ever beat, latest heartbeat first.</summary>
    IReadOnlyList<WorkerRecord> Workers();

    /// <summary>The results of <paramref name="study"/> that arrived after their claim was lost, in arrival order.</summary>
    IReadOnlyList<LateResult> LateResults(StudyInfo study);

    /// <summary>
    /// Writes <paramref name="study"/> (from another store) and all its <paramref name="trials"/> as they are — numbers,
    /// states, metrics, times — in one transaction (<see cref="InvalidOperationException"/> when a study of that name exists).
    /// </summary>
    StudyInfo Import(StudyInfo study, IReadOnlyList<Trial> trials);

    /// <summary>The store's current time (the server's for a shared store), for status figures.</summary>
    DateTimeOffset Now();

    /// <summary>
    /// A scope whose calls on this store (in this logical flow of control, until it is disposed) run in one transaction
    /// that is then rolled back, so nothing they write is kept or seen by anyone else; null when the store has no such
    /// scope. A <see cref="TrialWorker"/> rehearses a trial's bookkeeping in it before its first claim: the statements and
    /// the code behind them run once before a real trial waits on them, and a connection whose rights do not allow a
    /// worker's writes is refused at start rather than at the end of its first trial.
    /// </summary>
    IDisposable? Scratch() => null;

    /// <summary>
    /// A task that completes when a trial next becomes pending (written by a coordinator, released, or given back after
    /// its lease ended), by any connection, after this call — or never, for a store that cannot tell (its workers poll).
    /// A hint that lets an idle worker claim at once instead of at its next poll, never a promise: it may also complete
    /// when nothing was written (a listener reconnecting), and workers still poll.
    /// </summary>
    Task NextPending() => TrialStores.Never;
}

/// <summary>What the stores share.</summary>
public static class TrialStores
{
    /// <summary>A task that never completes (<see cref="ITrialStore.NextPending"/> of a store without notifications).</summary>
    public static Task Never { get; } = new TaskCompletionSource().Task;
}

/// <summary>A trial store that cannot be used: not a database, a newer schema, another run holds it, the disk refused.</summary>
public sealed class TrialStoreException : ShrinkUserException
{
    public TrialStoreException(string message, Exception? inner = null) : base(message, inner) { }
}
