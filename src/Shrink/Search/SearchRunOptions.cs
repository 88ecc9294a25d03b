namespace Shrink.Search;

/// <summary>How a <see cref="SearchRunner"/> runs a study on this machine.</summary>
public sealed record SearchRunOptions
{
    /// <summary>Trials in the study, all runs together, after which no new one is proposed (null: no limit).</summary>
    public int? MaxTrials { get; init; }

    /// <summary>This run's time: past it no trial starts, and running ones are given back as pending (null: no limit).</summary>
    public TimeSpan? WallTime { get; init; }

    /// <summary>Trials evaluated at once.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Threads of the machine, split evenly between the workers: each trial gets max(1, Threads / Workers).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Continue the study where an earlier run left it (what <see cref="Study.Open"/> is given).</summary>
    public bool Resume { get; init; }

    /// <summary>How long a claim holds; the coordinator renews the claims of running trials every third of it.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Runs that may die holding a trial before it is failed instead of retried.</summary>
    public int MaxInterruptions { get; init; } = 3;

    /// <summary>
    /// True (a local run that holds its run directory's lock): every trial left running belongs to a dead run and is
    /// retried at once. False (a store shared with other machines): only those whose lease has ended.
    /// </summary>
    public bool SoleCoordinator { get; init; } = true;

    /// <summary>The prefix of the worker names written with each claim ("host:pid", then "/0", "/1", …).</summary>
    public string WorkerName { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>Called on the coordinator as each trial starts and as it is written finished.</summary>
    public Action<Trial>? Started { get; init; }

    /// <inheritdoc cref="Started"/>
    public Action<Trial>? Finished { get; init; }

    /// <summary>Throws <see cref="OptionsException"/> naming the property that is wrong.</summary>
    public void Validate()
    {
        if (MaxTrials is null && WallTime is null)
            throw OptionsException.For(nameof(MaxTrials), "and the wall time are both unset; give a number of trials or a time budget");
        if (MaxTrials < 0) throw OptionsException.For(nameof(MaxTrials), $"must be at least 0, got {MaxTrials}");
        if (WallTime <= TimeSpan.Zero) throw OptionsException.For(nameof(WallTime), $"must be above 0, got {WallTime}");
        if (Workers < 1) throw OptionsException.For(nameof(Workers), $"must be at least 1, got {Workers}");
        if (Threads < 1) throw OptionsException.For(nameof(Threads), $"must be at least 1, got {Threads}");
        if (Lease <= TimeSpan.Zero) throw OptionsException.For(nameof(Lease), $"must be above 0, got {Lease}");
        if (MaxInterruptions < 1) throw OptionsException.For(nameof(MaxInterruptions), $"must be at least 1, got {MaxInterruptions}");
    }
}

/// <summary>What an evaluation is told about its trial.</summary>
public sealed record TrialContext(Trial Trial, int Threads, string Worker)
{
    public int Number => Trial.Number;

    /// <summary>The share of the full evaluation to spend (successive halving), in (0, 1].</summary>
    public double Budget => Trial.Budget;

    /// <summary>True when an earlier run died while evaluating this trial.</summary>
    public bool IsRetry => Trial.Attempts > 1;
}

/// <summary>Why a run ended.</summary>
public enum SearchStop { TrialLimit, WallTime, Exhausted, Cancelled }

/// <summary>The names of <see cref="SearchStop"/> that result files and command output give.</summary>
public static class SearchStops
{
    /// <summary>"trial-limit", "wall-time", "exhausted" or "cancelled".</summary>
    public static string Name(this SearchStop stop) => stop switch
    {
        SearchStop.TrialLimit => "trial-limit", SearchStop.WallTime => "wall-time", SearchStop.Exhausted => "exhausted", _ => "cancelled",
    };
}

/// <summary>The end of a run: every trial of the study, how many this run finished, and why it stopped.</summary>
public sealed record SearchSummary(IReadOnlyList<Trial> Trials, int Finished, SearchStop Stop);
