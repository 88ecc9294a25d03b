using System.Diagnostics;
using Shrink.Search;

namespace Shrink.Training.Optimization;

/// <summary>
/// A trial of an optimize run starting (<see cref="Finished"/> false) or finished: its number, configuration summary,
/// status, metrics and error, the best trial so far (null before one completes), whether it meets the budget, and the
/// time spent and left (null without a wall time).
/// </summary>
public sealed record OptimizeProgress(int Trial, int? Trials, bool Finished, string Summary, string Status, IReadOnlyDictionary<string, double> Metrics,
    string? Error, TrialSummary? Best, bool BestMet, double? BestMiss, TimeSpan Elapsed, TimeSpan? Left);

/// <summary>The coordinator's handlers of trials starting and finishing: the run's files rewritten, then the caller told.</summary>
internal sealed class OptimizeEvents(OptimizeRun run, RunFiles files, BaselineFigures baseline, Action<OptimizeProgress>? progress, Stopwatch clock)
{
    private OptimizeResult? _last;

    public void Started(Trial t, IReadOnlyList<Trial> trials) => progress?.Invoke(Progress(t, finished: false));

    public void Finished(Trial t, IReadOnlyList<Trial> trials)
    {
        _last = files.Update(trials, baseline);
        progress?.Invoke(Progress(t, finished: true));
    }

    private OptimizeProgress Progress(Trial t, bool finished) => new(t.Number, run.Options.Trials, finished,
        t.Attributes.GetValueOrDefault("summary") ?? CompressionSpace.Summary(t.Configuration), t.Status.ToString().ToLowerInvariant(), t.Metrics, t.Error,
        _last?.Best, _last?.Met ?? false, _last?.Miss, clock.Elapsed, run.Options.WallTime is { } wall ? Max(TimeSpan.Zero, wall - clock.Elapsed) : null);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
