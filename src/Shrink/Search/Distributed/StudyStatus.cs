namespace Shrink.Search;

/// <summary>One worker as the status shows it.</summary>
public sealed record WorkerStatus(string Name, string Role, string Version, int Threads, int Finished, double SecondsSinceHeartbeat, bool Alive, string? Study);

/// <summary>
/// Where a study of a store stands (<c>shrink study status</c>): trials by state, the workers alive (a heartbeat younger
/// than <c>alive</c>), the throughput (trials finished per minute over the last ten minutes, and over the whole study),
/// the late results, and the best completed trial by the metric the caller names.
/// </summary>
public sealed record StudyStatus(string Study, string Store, IReadOnlyDictionary<string, int> States, int Trials, IReadOnlyList<WorkerStatus> Workers,
    double PerMinuteRecent, double PerMinuteOverall, int LateResults, int Retried, Trial? Best, string? Job)
{
    /// <summary>The status of <paramref name="study"/> now; best by <paramref name="metric"/>, lower is better unless <paramref name="maximize"/>.</summary>
    public static StudyStatus Of(ITrialStore store, StudyInfo study, string storeName, string? metric = "loss", bool maximize = false, TimeSpan? alive = null)
    {
        var trials = store.List(study);
        var now = store.Now();
        var limit = alive ?? TimeSpan.FromSeconds(90);
        var states = Enum.GetValues<TrialStatus>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => trials.Count(t => t.Status == s));
        var workers = store.Workers().Select(w => new WorkerStatus(w.Name, w.Role, w.Version, w.Threads, w.Finished,
            Math.Max(0, (now - w.Heartbeat).TotalSeconds), w.Role != WorkerRecord.Stopped && now - w.Heartbeat < limit, w.Study)).ToList();
        var finished = trials.Where(t => t.IsFinished && t.Finished is not null).Select(t => t.Finished!.Value).ToList();
        var recent = finished.Count(f => now - f < TimeSpan.FromMinutes(10));
        var span = finished.Count > 0 ? (finished.Max() - trials.Min(t => t.Created)).TotalMinutes : 0;
        var best = metric is null ? null : trials.Where(t => t.Status == TrialStatus.Completed && t.Metrics.ContainsKey(metric))
            .OrderBy(t => maximize ? -t.Metrics[metric] : t.Metrics[metric]).ThenBy(t => t.Number).FirstOrDefault();
        var window = Math.Min(10, Math.Max(span, 1e-9));
        return new StudyStatus(study.Name, storeName, states, trials.Count, workers, recent / window, span > 0 ? finished.Count / span : 0,
            store.LateResults(study).Count, trials.Count(t => t.Attempts > 1), best, study.Job);
    }
}
