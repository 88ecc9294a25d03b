using Shrink.Search;

namespace Shrink.Tests.Search;

/// <summary>Synthetic objectives and a quick way to run a strategy on them in memory.</summary>
internal static class SearchHarness
{
    public static readonly Objective Loss = Objective.Minimize("loss");

    /// <summary>Six integers in [−10, 10]: 21^6 ≈ 8.6e7 configurations.</summary>
    public static SearchSpace Bowl() => new(Enumerable.Range(0, 6).Select(i => (Parameter)Parameter.Int($"x{i}", -10, 10)));

    /// <summary>A quadratic bowl with its minimum 0 at (3, −2, 5, 0, −7, 1).</summary>
    public static double BowlLoss(Configuration c)
    {
        long[] centre = [3, -2, 5, 0, -7, 1];
        return centre.Select((m, i) => Math.Pow(c.GetInt($"x{i}") - m, 2)).Sum();
    }

    /// <summary>A 6 × 6 space (36 configurations).</summary>
    public static SearchSpace Tiny() => new(Parameter.Int("a", 0, 5), Parameter.Choice("b", "p", "q", "r", "s", "t", "u"));

    public static double TinyLoss(Configuration c) => Math.Abs(c.GetInt("a") - 2) + (c.GetString("b") == "s" ? 0 : 1);

    /// <summary>Runs <paramref name="strategy"/> for up to <paramref name="trials"/> trials on a fresh in-memory store.</summary>
    public static SearchSummary Run(ISearchStrategy strategy, SearchSpace space, Func<Configuration, double> loss, int trials, int workers = 1)
    {
        var study = Study.Open(new MemoryTrialStore(), "s", space);
        var runner = new SearchRunner(study, strategy, new SearchRunOptions { MaxTrials = trials, Workers = workers, Threads = 4 });
        return runner.RunAsync((c, _, _) => Task.FromResult(TrialResult.Completed(new Dictionary<string, double> { ["loss"] = loss(c) }))).GetAwaiter().GetResult();
    }

    /// <summary>A completed trial with <paramref name="metrics"/>, for hand-made histories.</summary>
    public static Trial Done(int number, Configuration configuration, params (string Name, double Value)[] metrics) => new()
    {
        Id = number + 1, Number = number, Configuration = configuration, Budget = 1, Status = TrialStatus.Completed, Origin = "test",
        Created = DateTimeOffset.UnixEpoch, Metrics = metrics.ToDictionary(m => m.Name, m => m.Value),
    };

    public static double BestLoss(SearchSummary s) => s.Trials.Where(t => t.Status == TrialStatus.Completed).Min(t => t.Metrics["loss"]);
}
