using System.Diagnostics;

namespace Shrink.Search;

/// <summary>How a <see cref="SearchCoordinator"/> runs.</summary>
public sealed record CoordinatorOptions
{
    /// <summary>Trials in the study, all runs together, after which no new one is proposed (null: no limit).</summary>
    public int? MaxTrials { get; init; }

    /// <summary>This run's time: past it the coordinator stops proposing and returns; the workers finish what is written (null: no limit).</summary>
    public TimeSpan? WallTime { get; init; }

    /// <summary>Pending trials kept waiting at least (more when the live workers have more slots: one waiting per slot, so a worker that finishes claims its next trial at once).</summary>
    public int Ahead { get; init; } = 2;

    /// <summary>How often the store is read for results at most: once trials finish, a quarter of their median duration when that is shorter (<see cref="AdaptivePoll"/>).</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>A worker is alive while its heartbeat is younger than this.</summary>
    public TimeSpan Alive { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Claims of a trial that may die with their worker before it is failed instead of retried.</summary>
    public int MaxInterruptions { get; init; } = 3;

    /// <summary>The coordinator's name in the store's workers table.</summary>
    public string Name { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:coordinator";

    /// <summary>Called as each trial is seen finished (once per trial and run).</summary>
    public Action<Trial>? Finished { get; init; }

    public void Validate()
    {
        if (MaxTrials is null && WallTime is null)
            throw OptionsException.For(nameof(MaxTrials), "and the wall time are both unset; give a number of trials or a time budget");
        if (MaxTrials < 0) throw OptionsException.For(nameof(MaxTrials), $"must be at least 0, got {MaxTrials}");
        if (Ahead < 1) throw OptionsException.For(nameof(Ahead), $"must be at least 1, got {Ahead}");
        if (Poll <= TimeSpan.Zero) throw OptionsException.For(nameof(Poll), $"must be above 0, got {Poll}");
        if (MaxInterruptions < 1) throw OptionsException.For(nameof(MaxInterruptions), $"must be at least 1, got {MaxInterruptions}");
    }
}

/// <summary>
/// The one proposer of a distributed study (<c>--role coordinator</c>): runs the strategy against the study's history in
/// the shared store and writes pending trials — as many as the live workers have slots, at least
/// <see cref="CoordinatorOptions.Ahead"/> — for <see cref="TrialWorker"/>s on any machine to claim; it evaluates nothing.
/// All its state is the store's, so it may be killed at any moment and restarted with resume: it reads the history and
/// goes on, while the workers keep running what was written. It also gives back the trials of workers whose lease ended.
/// A duplicate proposal is refused by the store's (hash, budget) key, never written twice.
/// </summary>
public sealed class SearchCoordinator
{
    private readonly Study _study;
    private readonly ISearchStrategy _strategy;
    private readonly CoordinatorOptions _options;

    public SearchCoordinator(Study study, ISearchStrategy strategy, CoordinatorOptions options)
    {
        (_study, _strategy, _options) = (study ?? throw new ArgumentNullException(nameof(study)),
            strategy ?? throw new ArgumentNullException(nameof(strategy)), options ?? throw new ArgumentNullException(nameof(options)));
        options.Validate();
    }

    /// <summary>Proposes until the trial limit (or the end of the space) and waits for every written trial to finish; or until the wall time or cancellation.</summary>
    public async Task<SearchSummary> RunAsync(CancellationToken cancellation = default)
    {
        var store = _study.Store;
        var seen = _study.Trials().Where(t => t.IsFinished).Select(t => t.Id).ToHashSet();
        var clock = Stopwatch.StartNew();
        var (finished, exhausted) = (0, false);
        var started = DateTimeOffset.UtcNow;
        var poll = new AdaptivePoll(_options.Poll);
        void Beat(string role) => store.Heartbeat(new WorkerRecord(_options.Name, role, Environment.MachineName, Environment.ProcessId,
            ShrinkVersion.Current, 0, started, started, finished, _study.Name));
        SearchSummary End(IReadOnlyList<Trial> trials, SearchStop stop)
        {
            Beat(WorkerRecord.Stopped);
            return new SearchSummary(trials, finished, stop);
        }
        while (true)
        {
            Beat("coordinator");
            store.Recover(_study.Info, DateTimeOffset.UtcNow, _options.MaxInterruptions);
            var trials = _study.Trials();
            foreach (var t in trials.Where(t => t.IsFinished && seen.Add(t.Id)))
            {
                poll.Add(t.Seconds);
                finished++;
                _options.Finished?.Invoke(t);
            }
            if (cancellation.IsCancellationRequested) return End(trials, SearchStop.Cancelled);
            if (clock.Elapsed >= _options.WallTime) return End(trials, SearchStop.WallTime);
            if (!exhausted) exhausted = Propose(trials);
            var atLimit = _options.MaxTrials is { } max && _study.Trials().Count >= max;
            if ((atLimit || exhausted) && _study.Trials().All(t => t.IsFinished))
                return End(_study.Trials(), exhausted && !atLimit ? SearchStop.Exhausted : SearchStop.TrialLimit);
            try { await Task.Delay(poll.Next, cancellation).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>Writes proposals until the queue is full or the limit is reached; true when the strategy has nothing left.</summary>
    private bool Propose(IReadOnlyList<Trial> trials)
    {
        var history = trials.ToList();
        var pending = history.Count(t => t.Status == TrialStatus.Pending);
        var slots = LiveSlots();
        while (pending < Math.Max(_options.Ahead, slots))
        {
            if (_options.MaxTrials is { } max && history.Count >= max) return false;
            var proposals = _strategy.Propose(history, 1);
            if (proposals.Items.Count == 0) return true;
            try
            {
                history.AddRange(_study.Store.Add(_study.Info, proposals.Items));
            }
            catch (InvalidOperationException)
            {
                return false;  // written already (a retried write that had gone through): read the history again next time
            }
            pending++;
        }
        return false;
    }

    /// <summary>Slots of the live workers serving this study (or, idle, any study).</summary>
    private int LiveSlots()
    {
        var now = _study.Store.Now();
        return _study.Store.Workers().Where(w => w.Role == "worker" && now - w.Heartbeat < _options.Alive && (w.Study is null || w.Study == _study.Name))
            .Sum(w => w.Threads);
    }
}
