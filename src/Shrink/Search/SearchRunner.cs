using System.Diagnostics;

namespace Shrink.Search;

/// <summary>
/// Runs a study on this machine: <see cref="SearchRunOptions.Workers"/> trials at once, each evaluated by the
/// caller's function on the thread pool with max(1, Threads / Workers) threads to use (<see cref="TrialContext"/>).
/// One coordinator (the caller of <see cref="RunAsync"/>) does every store write: it claims a pending trial (a
/// retried one, an enqueued one) or, when none is pending, asks the strategy for one proposal, writes it and claims
/// it; it records each result as it arrives and renews the claims of running trials.
/// <para>Resume: trials left running by a dead run go back to pending first (<see cref="ITrialStore.Recover"/>)
/// and run before any new proposal, so with one worker a deterministic strategy ends with the same trials as an
/// uninterrupted run; with several, proposals depend on the order results arrive in. An evaluation that throws, or
/// returns a metric that is not a finite number, is recorded failed with its error, and the search goes on.
/// Cancellation and the wall time give running trials back as pending, so the store stays consistent.</para>
/// </summary>
public sealed class SearchRunner
{
    private readonly Study _study;
    private readonly ISearchStrategy _strategy;
    private readonly SearchRunOptions _options;

    public SearchRunner(Study study, ISearchStrategy strategy, SearchRunOptions options)
    {
        (_study, _strategy, _options) = (study ?? throw new ArgumentNullException(nameof(study)),
            strategy ?? throw new ArgumentNullException(nameof(strategy)), options ?? throw new ArgumentNullException(nameof(options)));
        options.Validate();
    }

    private sealed record Running(Trial Trial, int Slot, string Worker, Task<Outcome> Task);

    private sealed record Outcome(TrialResult? Result, double Seconds);

    /// <summary>Runs trials until the trial limit, the wall time, cancellation or the end of the space.</summary>
    public async Task<SearchSummary> RunAsync(Func<Configuration, TrialContext, CancellationToken, Task<TrialResult>> evaluate,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(evaluate);
        _study.Store.Recover(_study.Info, _options.SoleCoordinator ? DateTimeOffset.MaxValue : DateTimeOffset.UtcNow, _options.MaxInterruptions);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        if (_options.WallTime is { } wall) stop.CancelAfter(wall);
        var running = new List<Running>();
        var (finished, exhausted, renewed) = (0, false, Stopwatch.StartNew());
        try
        {
            while (true)
            {
                if (!stop.IsCancellationRequested) exhausted = Fill(running, evaluate, stop.Token);
                if (running.Count == 0) break;
                using var wake = new CancellationTokenSource();
                var renew = Task.Delay(Max(TimeSpan.Zero, _options.Lease / 3 - renewed.Elapsed), wake.Token);
                var done = await Task.WhenAny(running.Select(r => (Task)r.Task).Append(renew)).ConfigureAwait(false);
                await wake.CancelAsync().ConfigureAwait(false);
                if (renewed.Elapsed >= _options.Lease / 3) { Renew(running); renewed.Restart(); }
                if (done == renew) continue;
                var r = running.Single(x => x.Task == done);
                running.Remove(r);
                if (Record(r, r.Task.Result)) finished++;
            }
        }
        catch
        {
            await Abandon(running, stop).ConfigureAwait(false);
            throw;
        }
        var why = cancellation.IsCancellationRequested ? SearchStop.Cancelled : stop.IsCancellationRequested ? SearchStop.WallTime
            : exhausted ? SearchStop.Exhausted : SearchStop.TrialLimit;
        return new SearchSummary(_study.Trials(), finished, why);
    }

    /// <summary>Starts trials until every worker has one; true when the strategy had nothing left to propose.</summary>
    private bool Fill(List<Running> running, Func<Configuration, TrialContext, CancellationToken, Task<TrialResult>> evaluate, CancellationToken token)
    {
        while (running.Count < _options.Workers)
        {
            var slot = Enumerable.Range(0, _options.Workers).First(s => running.All(r => r.Slot != s));
            var worker = $"{_options.WorkerName}/{slot}";
            var trial = _study.Store.Claim(_study.Info, worker, _options.Lease);
            if (trial is null)
            {
                var proposed = Propose();
                if (proposed is not true) return proposed is null;
                trial = _study.Store.Claim(_study.Info, worker, _options.Lease);
                if (trial is null) return false;
            }
            _options.Started?.Invoke(trial);
            var context = new TrialContext(trial, Math.Max(1, _options.Threads / _options.Workers), worker);
            running.Add(new Running(trial, slot, worker, Task.Run(() => Evaluate(evaluate, trial, context, token), CancellationToken.None)));
        }
        return false;
    }

    /// <summary>Writes one proposal: true when written, false at the trial limit, null when the strategy is exhausted.</summary>
    private bool? Propose()
    {
        var history = _study.Trials();
        if (_options.MaxTrials is { } max && history.Count >= max) return false;
        var proposals = _strategy.Propose(history, 1);
        if (proposals.Items.Count == 0) return null;
        _study.Store.Add(_study.Info, proposals.Items);
        return true;
    }

    private static async Task<Outcome> Evaluate(Func<Configuration, TrialContext, CancellationToken, Task<TrialResult>> evaluate,
        Trial trial, TrialContext context, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var result = await evaluate(trial.Configuration, context, token).ConfigureAwait(false);
            return new(Checked(result), clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return new(null, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            return new(TrialResult.Failed(Describe(e)), clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>The result as the store takes it: a metric that is not a finite number fails the trial, naming it.</summary>
    internal static TrialResult Checked(TrialResult? result)
    {
        if (result is null) return TrialResult.Failed("the evaluation returned no result");
        var bad = result.Metrics.Where(m => !double.IsFinite(m.Value)).ToList();
        if (bad.Count == 0) return result;
        var finite = result.Metrics.Where(m => double.IsFinite(m.Value)).ToDictionary(m => m.Key, m => m.Value);
        var error = string.Join("; ", bad.Select(m => $"metric '{m.Key}' is {m.Value}"));
        return result with { Status = TrialStatus.Failed, Metrics = finite, Error = result.Error is null ? error : $"{error}; {result.Error}" };
    }

    internal static string Describe(Exception e) =>
        Text.Message.OneLine(e is ShrinkUserException ? e.Message : $"{e.GetType().Name}: {e.Message}", 2000);

    /// <summary>Writes a finished trial (or gives a cancelled one back); true when it was written finished.</summary>
    private bool Record(Running r, Outcome outcome)
    {
        if (outcome.Result is null)
        {
            _study.Store.Release(r.Trial.Id, r.Worker);
            return false;
        }
        if (!_study.Store.Finish(r.Trial.Id, r.Worker, outcome.Result, outcome.Seconds)) return false;
        if (_options.Finished is { } finished && _study.Store.Find(_study.Info, r.Trial.Hash, r.Trial.Budget) is { } written) finished(written);
        return true;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void Renew(List<Running> running)
    {
        foreach (var r in running) _study.Store.Renew(r.Trial.Id, r.Worker, _options.Lease);
    }

    /// <summary>After a failure of the coordinator: stops the evaluations, waits for them and gives their trials back.</summary>
    private async Task Abandon(List<Running> running, CancellationTokenSource stop)
    {
        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var r in running)
        {
            try
            {
                await r.Task.ConfigureAwait(false);
                _study.Store.Release(r.Trial.Id, r.Worker);
            }
            catch (Exception)
            {
                // the store may be what failed; a later resume recovers what could not be given back
            }
        }
    }
}
