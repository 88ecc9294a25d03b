using Microsoft.Data.Sqlite;
using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

public class SearchRunnerTests
{
    private static Func<Configuration, TrialContext, CancellationToken, Task<TrialResult>> Bowl(Action<TrialContext>? during = null) => (c, ctx, _) =>
    {
        during?.Invoke(ctx);
        return Task.FromResult(TrialResult.Completed(new Dictionary<string, double> { ["loss"] = BowlLoss(c) }));
    };

    private static List<string> Final(IEnumerable<Trial> trials) =>
        trials.Select(t => $"{t.Number}:{t.Hash}@{t.Budget}:{t.Status}:{t.Origin}:{t.Parent}:{t.Metrics.GetValueOrDefault("loss")}").ToList();

    private static SearchRunner Runner(ITrialStore store, string strategy, bool resume, int trials = 30) =>
        new(Study.Open(store, "s", SearchHarness.Bowl(), """{"seed":7}""", resume), StrategyTests.Make(strategy, SearchHarness.Bowl(), 7),
            new SearchRunOptions { MaxTrials = trials, Resume = resume });

    [Theory]
    [InlineData("evolution")]
    [InlineData("annealing")]
    [InlineData("successive-halving")]
    public async Task A_run_resumed_from_the_file_as_a_crash_left_it_ends_with_the_same_trials_as_an_uninterrupted_one(string strategy)
    {
        using var dir = new TempDirectory();
        var crashed = dir.File("crashed.db");
        var path = dir.File("trials.db");
        using (var store = new SqliteTrialStore(path))
        {
            // the uninterrupted run; while trial 17 runs, the file is copied as it is on disk: what kill -9 would leave
            var whole = await Runner(store, strategy, resume: false).RunAsync(Bowl(ctx =>
            {
                if (ctx.Number != 17) return;
                using var from = new SqliteConnection($"Data Source={path};Pooling=False");
                using var to = new SqliteConnection($"Data Source={crashed};Pooling=False");
                from.Open();
                from.BackupDatabase(to);
            }));
            Assert.Equal((30, SearchStop.TrialLimit), (whole.Trials.Count, whole.Stop));
            using var left = new SqliteTrialStore(crashed);
            var atCrash = left.List(left.FindStudy("s")!);
            Assert.Equal(18, atCrash.Count);
            Assert.Equal(TrialStatus.Running, atCrash[17].Status);
            Assert.All(atCrash.Take(17), t => Assert.Equal(TrialStatus.Completed, t.Status));
            var resumed = await Runner(left, strategy, resume: true).RunAsync(Bowl());
            Assert.Equal(Final(whole.Trials), Final(resumed.Trials));
            Assert.Equal(13, resumed.Finished);  // 17 again, then 18..29: nothing finished before the crash ran twice
            Assert.Equal((2, 1), (resumed.Trials[17].Attempts, resumed.Trials[17].Interruptions));
            Assert.All(resumed.Trials.Where(t => t.Number != 17), t => Assert.Equal((1, 0), (t.Attempts, t.Interruptions)));
        }
    }

    [Fact]
    public async Task A_failing_evaluation_and_a_nan_metric_are_recorded_and_the_search_goes_on()
    {
        var study = Study.Open(new MemoryTrialStore(), "s", Tiny());
        var runner = new SearchRunner(study, new RandomSearch(Tiny(), 1), new SearchRunOptions { MaxTrials = 20 });
        var s = await runner.RunAsync((c, ctx, _) => c.GetInt("a") switch
        {
            0 => throw new InvalidOperationException("loss exploded\nat epoch 3"),
            1 => Task.FromResult(TrialResult.Completed(new Dictionary<string, double> { ["loss"] = double.NaN, ["size"] = 3 })),
            _ => Task.FromResult(TrialResult.Completed(new Dictionary<string, double> { ["loss"] = TinyLoss(c) })),
        });
        Assert.Equal(20, s.Trials.Count);
        Assert.All(s.Trials, t => Assert.Equal(t.Configuration.GetInt("a") < 2 ? TrialStatus.Failed : TrialStatus.Completed, t.Status));
        var thrown = s.Trials.First(t => t.Configuration.GetInt("a") == 0);
        Assert.Equal(@"InvalidOperationException: loss exploded\nat epoch 3", thrown.Error);
        var nan = s.Trials.First(t => t.Configuration.GetInt("a") == 1);
        Assert.Equal(("metric 'loss' is NaN", 3.0), (nan.Error, nan.Metrics["size"]));
    }

    [Fact]
    public async Task Workers_run_trials_at_once_with_the_threads_split_between_them()
    {
        var study = Study.Open(new MemoryTrialStore(), "s", SearchHarness.Bowl());
        var runner = new SearchRunner(study, new RandomSearch(SearchHarness.Bowl(), 1), new SearchRunOptions { MaxTrials = 12, Workers = 3, Threads = 8 });
        var (now, most) = (0, 0);
        var threads = new System.Collections.Concurrent.ConcurrentBag<int>();
        var workers = new System.Collections.Concurrent.ConcurrentBag<string>();
        var s = await runner.RunAsync(async (c, ctx, token) =>
        {
            threads.Add(ctx.Threads);
            workers.Add(ctx.Worker);
            var at = Interlocked.Increment(ref now);
            InterlockedMax(ref most, at);
            await Task.Delay(30, token);
            Interlocked.Decrement(ref now);
            return TrialResult.Completed(new Dictionary<string, double> { ["loss"] = BowlLoss(c) });
        });
        Assert.Equal(12, s.Finished);
        Assert.Equal(3, most);
        Assert.All(threads, t => Assert.Equal(2, t));
        Assert.Equal(3, workers.Distinct().Count());
    }

    [Fact]
    public async Task Cancelling_gives_the_running_trials_back_and_a_resume_finishes_the_same_search()
    {
        using var dir = new TempDirectory();
        using var store = SqliteTrialStore.InDirectory(dir.Path);
        using var cancel = new CancellationTokenSource();
        var first = await Runner(store, "evolution", resume: false, trials: 12).RunAsync(async (c, ctx, token) =>
        {
            if (ctx.Number == 5) { await cancel.CancelAsync(); await Task.Delay(Timeout.Infinite, token); }
            return TrialResult.Completed(new Dictionary<string, double> { ["loss"] = BowlLoss(c) });
        }, cancel.Token);
        Assert.Equal((SearchStop.Cancelled, 5), (first.Stop, first.Finished));
        Assert.Equal((TrialStatus.Pending, 0), (first.Trials[5].Status, first.Trials[5].Interruptions));
        var resumed = await Runner(store, "evolution", resume: true, trials: 12).RunAsync(Bowl());
        using var other = new TempDirectory();
        using var fresh = SqliteTrialStore.InDirectory(other.Path);
        var whole = await Runner(fresh, "evolution", resume: false, trials: 12).RunAsync(Bowl());
        Assert.Equal(Final(whole.Trials), Final(resumed.Trials));
    }

    [Fact]
    public async Task The_wall_time_stops_the_run_with_nothing_left_running()
    {
        var study = Study.Open(new MemoryTrialStore(), "s", SearchHarness.Bowl());
        var runner = new SearchRunner(study, new RandomSearch(SearchHarness.Bowl(), 1), new SearchRunOptions { WallTime = TimeSpan.FromMilliseconds(300) });
        var s = await runner.RunAsync(async (c, _, token) =>
        {
            await Task.Delay(40, token);
            return TrialResult.Completed(new Dictionary<string, double> { ["loss"] = BowlLoss(c) });
        });
        Assert.Equal(SearchStop.WallTime, s.Stop);
        Assert.InRange(s.Finished, 1, 10);
        Assert.DoesNotContain(s.Trials, t => t.Status == TrialStatus.Running);
        Assert.InRange(s.Trials.Count(t => t.Status == TrialStatus.Pending), 0, 1);  // the one cut off, unless the time ran out between two trials
    }

    [Fact]
    public void Run_options_are_checked_with_the_property_named()
    {
        var study = Study.Open(new MemoryTrialStore(), "s", Tiny());
        OptionsException Bad(SearchRunOptions o) => Assert.Throws<OptionsException>(() => new SearchRunner(study, new RandomSearch(Tiny(), 1), o));
        Assert.Equal("MaxTrials", Bad(new SearchRunOptions()).Option);
        Assert.Equal("Workers", Bad(new SearchRunOptions { MaxTrials = 3, Workers = 0 }).Option);
        Assert.Equal("WallTime", Bad(new SearchRunOptions { WallTime = TimeSpan.Zero }).Option);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
