namespace Shrink.Search;

/// <summary>
/// A trial store in memory, under one lock: the same contract as <see cref="SqliteTrialStore"/> without a file,
/// for searches that need no resume (and the strategies' tests). Gone when the process ends.
/// </summary>
public sealed class MemoryTrialStore(TimeProvider? clock = null) : ITrialStore
{
    private readonly object _gate = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly List<StudyInfo> _studies = [];
    private readonly Dictionary<long, List<Trial>> _trials = [];
    private readonly Dictionary<string, WorkerRecord> _workers = [];
    private readonly List<(long Study, LateResult Result)> _late = [];
    private long _nextTrialId = 1;

    public int SchemaVersion => SqliteTrialStore.Version;

    public StudyInfo CreateStudy(string name, SearchSpace space, string settings, string? job = null) =>
        Import(new StudyInfo(0, name, space.Json, space.Hash, settings, _clock.GetUtcNow(), job), []);

    public StudyInfo SetJob(StudyInfo study, string? job)
    {
        lock (_gate)
        {
            var at = _studies.FindIndex(s => s.Id == study.Id);
            return _studies[at] = _studies[at] with { Job = job };
        }
    }

    public IReadOnlyList<StudyInfo> Studies()
    {
        lock (_gate) return _studies.ToList();
    }

    public StudyInfo Import(StudyInfo study, IReadOnlyList<Trial> trials)
    {
        lock (_gate)
        {
            if (_studies.Any(s => s.Name == study.Name)) throw new InvalidOperationException($"study '{study.Name}' exists");
            var written = study with { Id = _studies.Count + 1 };
            _studies.Add(written);
            _trials[written.Id] = trials.Select(t => t with { Id = _nextTrialId++ }).ToList();
            return written;
        }
    }

    public void Heartbeat(WorkerRecord worker)
    {
        lock (_gate)
        {
            var started = _workers.TryGetValue(worker.Name, out var was) ? was.Started : worker.Started;
            _workers[worker.Name] = worker with { Started = started, Heartbeat = _clock.GetUtcNow() };
        }
    }

    public IReadOnlyList<WorkerRecord> Workers()
    {
        lock (_gate) return _workers.Values.OrderByDescending(w => w.Heartbeat).ToList();
    }

    public IReadOnlyList<LateResult> LateResults(StudyInfo study)
    {
        lock (_gate) return _late.Where(l => l.Study == study.Id).Select(l => l.Result).ToList();
    }

    public DateTimeOffset Now() => _clock.GetUtcNow();

    public StudyInfo? FindStudy(string name)
    {
        lock (_gate) return _studies.FirstOrDefault(s => s.Name == name);
    }

    public IReadOnlyList<Trial> Add(StudyInfo study, IReadOnlyList<Proposal> proposals)
    {
        lock (_gate)
        {
            var trials = _trials[study.Id];
            var keys = trials.Select(t => (t.Hash, t.Budget)).ToHashSet();
            foreach (var p in proposals)
                if (!keys.Add((p.Configuration.Hash, p.Budget)))
                    throw new InvalidOperationException($"study '{study.Name}' has a trial of {p.Configuration.Hash} at budget {p.Budget} already");
            var now = _clock.GetUtcNow();
            var added = proposals.Select((p, i) => new Trial
            {
                Id = _nextTrialId++, Number = trials.Count + i, Configuration = p.Configuration, Budget = p.Budget,
                Status = TrialStatus.Pending, Origin = p.Origin, Parent = p.Parent, Created = now,
            }).ToList();
            trials.AddRange(added);
            return added;
        }
    }

    public Trial? Claim(StudyInfo study, string worker, TimeSpan lease)
    {
        lock (_gate)
        {
            var trials = _trials[study.Id];
            var at = trials.FindIndex(t => t.Status == TrialStatus.Pending);
            if (at < 0) return null;
            var now = _clock.GetUtcNow();
            return trials[at] = trials[at] with
            {
                Status = TrialStatus.Running, Worker = worker, Started = now, LeaseExpires = now + lease, Attempts = trials[at].Attempts + 1,
            };
        }
    }

    public bool Renew(long trialId, string worker, TimeSpan lease) =>
        Update(trialId, worker, t => t with { LeaseExpires = _clock.GetUtcNow() + lease });

    public bool Finish(long trialId, string worker, TrialResult result, double seconds)
    {
        TrialRows.CheckFinite(result);
        lock (_gate)
        {
            if (Update(trialId, worker, t => t with
                {
                    Status = result.Status, Metrics = result.Metrics, Attributes = result.Attributes, ModelPath = result.ModelPath,
                    Error = result.Error, Finished = _clock.GetUtcNow(), Seconds = seconds, LeaseExpires = null,
                }))
                return true;
            var (study, trial) = _trials.SelectMany(p => p.Value.Select(t => (p.Key, t))).FirstOrDefault(x => x.t.Id == trialId);
            if (trial is null) return false;
            if (TrialRows.IsRepeat(trial, worker, result)) return true;
            _late.Add((study, new LateResult(trialId, trial.Number, worker, result.Status, TrialRows.MetricsJson(result), seconds,
                _clock.GetUtcNow(), TrialRows.LateReason(trial, worker))));
            return false;
        }
    }

    public bool Release(long trialId, string worker) =>
        Update(trialId, worker, t => t with { Status = TrialStatus.Pending, Worker = null, Started = null, LeaseExpires = null });

    public IReadOnlyList<Trial> Recover(StudyInfo study, DateTimeOffset expiredBefore, int maxInterruptions)
    {
        lock (_gate)
        {
            var trials = _trials[study.Id];
            var recovered = new List<Trial>();
            for (var i = 0; i < trials.Count; i++)
            {
                if (trials[i].Status != TrialStatus.Running || trials[i].LeaseExpires >= expiredBefore) continue;
                trials[i] = TrialRows.Recovered(trials[i], maxInterruptions, _clock.GetUtcNow());
                recovered.Add(trials[i]);
            }
            return recovered;
        }
    }

    public IReadOnlyList<Trial> List(StudyInfo study)
    {
        lock (_gate) return _trials[study.Id].ToList();
    }

    public Trial? Find(StudyInfo study, string hash, double budget)
    {
        lock (_gate) return _trials[study.Id].FirstOrDefault(t => t.Hash == hash && t.Budget == budget);
    }

    public void Dispose() { }

    private bool Update(long trialId, string worker, Func<Trial, Trial> change)
    {
        lock (_gate)
        {
            foreach (var trials in _trials.Values)
            {
                var at = trials.FindIndex(t => t.Id == trialId);
                if (at < 0) continue;
                if (trials[at].Status != TrialStatus.Running || trials[at].Worker != worker) return false;
                trials[at] = change(trials[at]);
                return true;
            }
            return false;
        }
    }
}

/// <summary>The rules every store applies alike.</summary>
internal static class TrialRows
{
    /// <summary>A running trial whose run died: pending with one more interruption, or failed at the limit.</summary>
    public static Trial Recovered(Trial t, int maxInterruptions, DateTimeOffset now)
    {
        var interruptions = t.Interruptions + 1;
        if (interruptions < maxInterruptions)
            return t with { Status = TrialStatus.Pending, Interruptions = interruptions, Worker = null, Started = null, LeaseExpires = null };
        return t with
        {
            Status = TrialStatus.Failed, Interruptions = interruptions, LeaseExpires = null, Finished = now,
            Error = InterruptedError(interruptions),
        };
    }

    /// <summary>The error of a trial failed for being interrupted too often.</summary>
    public static string InterruptedError(int times) =>
        $"interrupted {times} times (its run ended while it was running each time); not retried again";

    /// <summary>True when <paramref name="t"/> was finished by <paramref name="worker"/> with <paramref name="result"/> already (a repeated write).</summary>
    public static bool IsRepeat(Trial t, string worker, TrialResult result) =>
        t.IsFinished && t.Worker == worker && t.Status == result.Status && t.Metrics.Count == result.Metrics.Count
        && t.Metrics.All(m => result.Metrics.TryGetValue(m.Key, out var v) && v == m.Value);

    /// <summary>Why a result of <paramref name="worker"/> for <paramref name="t"/> (as it is now) is not used.</summary>
    public static string LateReason(Trial t, string worker) => t.Status switch
    {
        TrialStatus.Running => $"the lease ended and {t.Worker} holds the trial now",
        TrialStatus.Pending => "the lease ended and the trial waits to be retried",
        _ => $"the trial was finished {t.Status.ToString().ToLowerInvariant()} by {t.Worker ?? "another run"} already",
    };

    /// <summary>The metrics of <paramref name="result"/> as the stores keep them (JSON).</summary>
    public static string MetricsJson(TrialResult result) => System.Text.Json.JsonSerializer.Serialize(result.Metrics);

    /// <summary>Throws <see cref="ArgumentException"/> on a metric that is not a finite number.</summary>
    public static void CheckFinite(TrialResult result)
    {
        foreach (var (name, value) in result.Metrics.Where(m => !double.IsFinite(m.Value)))
            throw new ArgumentException($"metric '{name}' is {value}; a store keeps finite numbers only", nameof(result));
    }
}
