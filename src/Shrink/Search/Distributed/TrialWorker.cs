using System.Diagnostics;

namespace Shrink.Search;

/// <summary>How a <see cref="TrialWorker"/> runs.</summary>
public sealed record TrialWorkerOptions
{
    /// <summary>Trials evaluated at once.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>How long a claim holds; it is renewed (and the worker's heartbeat written) every third of it.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long an idle worker waits at most before looking for pending trials again: once its trials finish, a quarter of their median duration when that is shorter (<see cref="AdaptivePoll"/>). A store that announces pending trials (<see cref="ITrialStore.NextPending"/>: PostgreSQL) wakes it sooner.</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The study to serve (null: every study whose job kind this worker knows).</summary>
    public string? Study { get; init; }

    /// <summary>Exit after this long without a trial to run (null: run until cancelled).</summary>
    public TimeSpan? IdleExit { get; init; }

    /// <summary>Claims of a trial that may die with their worker before it is failed instead of retried.</summary>
    public int MaxInterruptions { get; init; } = 3;

    /// <summary>The worker's name in the store ("host:pid"; its slots are "/0", "/1", …).</summary>
    public string Name { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>The Shrink version this worker runs, compared with each study's coordinator's.</summary>
    public string Version { get; init; } = ShrinkVersion.Current;

    /// <summary>
    /// Before the first claim, run one synthetic trial's bookkeeping (a study and a trial written, claimed, renewed,
    /// finished, read back, recovered) in the store's <see cref="ITrialStore.Scratch"/> scope, which keeps nothing: the
    /// first real trial does not wait while the runtime compiles that code and the driver prepares those statements
    /// (measured at 0.1–0.5 s on 2 cores), and a role whose rights do not allow a worker's writes is refused at start.
    /// Stores without a scratch scope skip it.
    /// </summary>
    public bool Rehearse { get; init; } = true;

    /// <summary>Called as each trial starts and as its result is written (Finished: the trial as stored; null when the result came late).</summary>
    public Action<Trial>? Started { get; init; }

    /// <inheritdoc cref="Started"/>
    public Action<Trial, Trial?>? Finished { get; init; }

    /// <summary>One-line notes (a study skipped, a lease lost).</summary>
    public Action<string>? Note { get; init; }

    public void Validate()
    {
        if (Threads < 1) throw OptionsException.For(nameof(Threads), $"must be at least 1, got {Threads}");
        if (Lease < TimeSpan.FromSeconds(1)) throw OptionsException.For(nameof(Lease), $"must be at least 1 s, got {Lease.TotalSeconds} s");
        if (Poll <= TimeSpan.Zero) throw OptionsException.For(nameof(Poll), $"must be above 0, got {Poll}");
        if (IdleExit < TimeSpan.Zero) throw OptionsException.For(nameof(IdleExit), $"must be 0 or more, got {IdleExit}");
        if (MaxInterruptions < 1) throw OptionsException.For(nameof(MaxInterruptions), $"must be at least 1, got {MaxInterruptions}");
    }
}

/// <summary>What a worker did: trials it finished (written), results that came late (kept, not used), trials it gave back.</summary>
public sealed record WorkerSummary(int Finished, int Late, int Released);

/// <summary>
/// A worker of a shared trial store (<c>shrink worker</c>): claims pending trials of the studies it serves (the store's
/// <see cref="ITrialStore.Claim"/>, <c>SELECT … FOR UPDATE SKIP LOCKED</c> on PostgreSQL), evaluates them with its
/// study's <see cref="TrialJob"/>, renews their leases and writes its heartbeat every third of a lease, and writes each
/// result with <see cref="ITrialStore.Finish"/> — which ignores, and records, a result whose lease was taken over while
/// it ran. It gives expired leases of other (dead) workers back as pending, so a study goes on while its coordinator
/// is down. A study whose coordinator runs another Shrink version is refused (named with <see cref="TrialWorkerOptions.Study"/>)
/// or skipped with a note. Cancellation gives the running trials back as pending.
/// </summary>
public sealed class TrialWorker
{
    private readonly ITrialStore _store;
    private readonly TrialJobs _jobs;
    private readonly TrialWorkerOptions _options;
    private readonly Dictionary<long, TrialEvaluation> _evaluations = [];
    private readonly HashSet<long> _skipped = [];
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly Stopwatch _recovered = Stopwatch.StartNew();
    private IReadOnlyList<StudyInfo>? _studies;
    private bool _recoveredOnce;
    private readonly AdaptivePoll _poll;
    private int _finished, _late, _released;

    public TrialWorker(ITrialStore store, TrialJobs jobs, TrialWorkerOptions options)
    {
        (_store, _jobs, _options) = (store ?? throw new ArgumentNullException(nameof(store)), jobs ?? throw new ArgumentNullException(nameof(jobs)),
            options ?? throw new ArgumentNullException(nameof(options)));
        options.Validate();
        _poll = new AdaptivePoll(options.Poll);
    }

    private sealed record Running(Trial Trial, StudyInfo Study, int Slot, string Worker, Task<(TrialResult? Result, double Seconds)> Task);

    /// <summary>Runs until cancelled or idle for <see cref="TrialWorkerOptions.IdleExit"/>.</summary>
    public async Task<WorkerSummary> RunAsync(CancellationToken cancellation = default)
    {
        var running = new List<Running>();
        if (_options.Rehearse) RehearseTrial();
        var (beat, idle) = (Stopwatch.StartNew(), Stopwatch.StartNew());
        Beat(running);
        var first = true;
        try
        {
            while (true)
            {
                // Taken before the claims: a trial written while they run still wakes the wait below.
                var written = running.Count < _options.Threads && !cancellation.IsCancellationRequested ? _store.NextPending() : TrialStores.Never;
                if (!cancellation.IsCancellationRequested) Fill(running, cancellation);
                if (first) _options.Note?.Invoke($"worker {_options.Name} (Shrink {_options.Version}): {_options.Threads} at once on {Describe(_store)}");
                first = false;
                if (running.Count > 0) idle.Restart();
                else if (cancellation.IsCancellationRequested || idle.Elapsed >= _options.IdleExit) break;
                var wait = running.Count < _options.Threads ? _poll.Next : _options.Lease / 3;
                var tick = Task.Delay(Min(wait, _options.Lease / 3 - beat.Elapsed), CancellationToken.None);
                var wake = running.Count < _options.Threads ? written : TrialStores.Never;
                await Task.WhenAny(running.Select(r => (Task)r.Task).Append(tick).Append(wake)).ConfigureAwait(false);
                if (beat.Elapsed >= _options.Lease / 3) { Beat(running); beat.Restart(); }
                foreach (var r in running.Where(r => r.Task.IsCompleted).ToList())
                {
                    running.Remove(r);
                    Record(r, await r.Task.ConfigureAwait(false));
                }
            }
        }
        catch
        {
            foreach (var r in running) TryRelease(r);
            throw;
        }
        Beat(running, stopped: true);
        return new WorkerSummary(_finished, _late, _released);
    }

    /// <summary>Claims trials until every slot runs one or no served study has a pending trial.</summary>
    private void Fill(List<Running> running, CancellationToken cancellation)
    {
        if (running.Count >= _options.Threads) return;
        var (recover, claimed) = (!_recoveredOnce || _recovered.Elapsed >= _options.Lease / 3, false);
        _recoveredOnce = true;
        if (recover) _recovered.Restart();
        foreach (var study in Served())
        {
            if (recover) _store.Recover(study, DateTimeOffset.UtcNow, _options.MaxInterruptions);
            while (running.Count < _options.Threads)
            {
                var slot = Enumerable.Range(0, _options.Threads).First(s => running.All(r => r.Slot != s));
                var worker = $"{_options.Name}/{slot}";
                if (_store.Claim(study, worker, _options.Lease) is not { } trial) break;
                claimed = true;
                _options.Started?.Invoke(trial);
                var evaluate = _evaluations[study.Id];
                var context = new TrialContext(trial, 1, worker);
                running.Add(new Running(trial, study, slot, worker, Task.Run(() => Evaluate(evaluate, trial, context, cancellation), CancellationToken.None)));
            }
            if (running.Count >= _options.Threads) return;
        }
        if (!claimed) _studies = null;   // nothing pending where it looked: read the studies again next time (a new one may have started)
    }

    /// <summary>The studies this worker serves now, each with its evaluation made (once).</summary>
    private IEnumerable<StudyInfo> Served()
    {
        var studies = _studies ??= (_options.Study is { } name
            ? [_store.FindStudy(name) ?? throw new TrialStoreException($"there is no study '{name}' in {Describe(_store)}; start its coordinator first, or give another --study")]
            : _store.Studies());
        foreach (var study in studies)
        {
            if (_skipped.Contains(study.Id)) continue;
            if (!_evaluations.ContainsKey(study.Id) && !Prepare(study)) continue;
            yield return study;
        }
    }

    /// <summary>Makes the evaluation of <paramref name="study"/>; false (noted once) when this worker cannot serve it.</summary>
    private bool Prepare(StudyInfo study)
    {
        var job = TrialJob.Of(study);
        string? why = job is null ? "it has no job (it was started to run on one machine)"
            : job.Version != _options.Version ? $"its coordinator runs Shrink {job.Version} and this worker runs Shrink {_options.Version}; run the same version on every machine"
            : !_jobs.Knows(job.Kind) ? $"it is a '{job.Kind}' job, which this worker does not run" : null;
        if (why is not null)
        {
            if (_options.Study is not null) throw new TrialStoreException($"this worker cannot serve study '{study.Name}': {why}");
            _skipped.Add(study.Id);
            _options.Note?.Invoke($"skipping study '{study.Name}': {why}");
            return false;
        }
        _evaluations[study.Id] = _jobs.For(study, job!);
        return true;
    }

    /// <summary>
    /// A synthetic trial of 0 s, from its study's creation to its recovery, in the store's scratch scope (nothing kept;
    /// see <see cref="TrialWorkerOptions.Rehearse"/>). A failure that may pass (the connection dropped) is noted and the
    /// worker goes on; any other (no right to write trials) is the worker's failure to start.
    /// </summary>
    private void RehearseTrial()
    {
        try
        {
            using var scratch = _store.Scratch();
            if (scratch is null) return;
            var job = SyntheticJob.Job(0);
            var space = SyntheticJob.Space();
            var study = _store.CreateStudy($"rehearsal of {_options.Name} {Guid.NewGuid():N}", space, "{}", job.ToJson());
            var worker = $"{_options.Name}/rehearsal";
            _store.Add(study, [new Proposal(Configuration.Of(("x", 0L)), Origin: "rehearsal")]);
            var trial = _store.Claim(study, worker, _options.Lease) ?? throw new TrialStoreException($"the rehearsal's trial could not be claimed in {Describe(_store)}");
            _store.Renew(trial.Id, worker, _options.Lease);
            var evaluate = SyntheticJob.Register(new TrialJobs()).For(study, TrialJob.Of(study)!);
            var (result, seconds) = Evaluate(evaluate, trial, new TrialContext(trial, 1, worker), CancellationToken.None).GetAwaiter().GetResult();
            _store.Finish(trial.Id, worker, result!, seconds);
            _store.Find(study, trial.Hash, trial.Budget);
            _store.Recover(study, DateTimeOffset.UtcNow, _options.MaxInterruptions);
        }
        catch (TrialStoreException e) when (e.InnerException is { } inner && PostgresTrialStore.IsTransient(inner))
        {
            _options.Note?.Invoke($"rehearsal skipped: {e.Message}");
        }
    }

    private static async Task<(TrialResult?, double)> Evaluate(TrialEvaluation evaluate, Trial trial, TrialContext context, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var result = await evaluate(trial.Configuration, context, token).ConfigureAwait(false);
            return (SearchRunner.Checked(result), clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return (null, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            return (TrialResult.Failed(SearchRunner.Describe(e)), clock.Elapsed.TotalSeconds);
        }
    }

    private void Record(Running r, (TrialResult? Result, double Seconds) outcome)
    {
        _poll.Add(outcome.Seconds);
        if (outcome.Result is null)
        {
            if (_store.Release(r.Trial.Id, r.Worker)) _released++;
            return;
        }
        if (_store.Finish(r.Trial.Id, r.Worker, outcome.Result, outcome.Seconds))
        {
            _finished++;
            _options.Finished?.Invoke(r.Trial, _store.Find(r.Study, r.Trial.Hash, r.Trial.Budget));
            return;
        }
        _late++;
        _options.Note?.Invoke($"trial {r.Trial.Number + 1} of '{r.Study.Name}': the result came after the lease was taken over; kept as a late result, not used");
        _options.Finished?.Invoke(r.Trial, null);
    }

    /// <summary>Renews the leases of the running trials and writes the heartbeat.</summary>
    private void Beat(List<Running> running, bool stopped = false)
    {
        foreach (var r in running)
            if (!_store.Renew(r.Trial.Id, r.Worker, _options.Lease))
                _options.Note?.Invoke($"trial {r.Trial.Number + 1} of '{r.Study.Name}': the lease was lost (this worker was too slow to renew it); its result will be kept as late");
        _store.Heartbeat(new WorkerRecord(_options.Name, stopped ? WorkerRecord.Stopped : "worker", Environment.MachineName, Environment.ProcessId, _options.Version, _options.Threads,
            _started, _started, _finished, running.FirstOrDefault()?.Study.Name ?? _options.Study));
    }

    private void TryRelease(Running r)
    {
        try
        {
            r.Task.Wait(TimeSpan.FromSeconds(5));
            _store.Release(r.Trial.Id, r.Worker);
        }
        catch (Exception)
        {
            // the store may be what failed; the lease ends and another worker retries the trial
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a < TimeSpan.Zero ? TimeSpan.Zero : a) : (b < TimeSpan.Zero ? TimeSpan.Zero : b);

    internal static string Describe(ITrialStore store) => store is PostgresTrialStore p ? p.Display : store is SqliteTrialStore s ? s.Path : "the store";
}
