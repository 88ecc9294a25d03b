using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

public class StrategyTests
{
    public static TheoryData<string> Strategies => new() { "random", "evolution", "annealing", "successive-halving" };

    internal static ISearchStrategy Make(string name, SearchSpace space, long seed) => name switch
    {
        "random" => new RandomSearch(space, seed),
        "evolution" => new RegularizedEvolution(space, Loss, seed, population: 8, sample: 3),
        "annealing" => new SimulatedAnnealing(space, Loss, seed, temperature: 2, cooling: 0.9),
        _ => new SuccessiveHalving(new RegularizedEvolution(space, Loss, seed, population: 8, sample: 3), Loss, minBudget: 1.0 / 9),
    };

    private static List<string> Sequence(SearchSummary s) => s.Trials.Select(t => $"{t.Hash}@{t.Budget}:{t.Origin}:{t.Parent}").ToList();

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Same_seed_and_history_give_the_same_proposals_and_another_seed_others(string name)
    {
        var a = Run(Make(name, Bowl(), 11), Bowl(), BowlLoss, 40);
        var b = Run(Make(name, Bowl(), 11), Bowl(), BowlLoss, 40);
        var c = Run(Make(name, Bowl(), 12), Bowl(), BowlLoss, 40);
        Assert.Equal(40, a.Trials.Count);
        Assert.Equal(Sequence(a), Sequence(b));
        Assert.NotEqual(Sequence(a), Sequence(c));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_batch_of_proposals_equals_the_same_number_asked_one_at_a_time(string name)
    {
        var history = Run(Make(name, Bowl(), 5), Bowl(), BowlLoss, 30).Trials;
        var strategy = Make(name, Bowl(), 5);
        var batch = strategy.Propose(history, 3).Items;
        var one = new List<Proposal>();
        var grown = history.ToList();
        for (var i = 0; i < 3; i++)
        {
            var p = strategy.Propose(grown, 1).Items.Single();
            one.Add(p);
            grown.Add(new Trial { Id = 1000 + i, Number = grown.Count, Configuration = p.Configuration, Budget = p.Budget, Status = TrialStatus.Pending, Origin = p.Origin, Created = DateTimeOffset.UnixEpoch });
        }
        Assert.Equal(one, batch);
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_tiny_space_is_used_up_without_a_duplicate_and_then_the_strategy_says_so(string name)
    {
        foreach (var workers in new[] { 1, 4 })
        {
            var s = Run(Make(name, Tiny(), 3), Tiny(), TinyLoss, 500, workers);
            Assert.Equal(SearchStop.Exhausted, s.Stop);
            var keys = s.Trials.Select(t => (t.Hash, t.Budget)).ToList();
            Assert.Equal(keys.Count, keys.Distinct().Count());
            Assert.Equal(36, s.Trials.Where(t => t.Budget == s.Trials.Min(u => u.Budget)).Select(t => t.Hash).Distinct().Count());
            Assert.True(Make(name, Tiny(), 3).Propose(s.Trials, 1).Exhausted);
            Assert.Empty(Make(name, Tiny(), 3).Propose(s.Trials, 1).Items);
        }
    }

    /// <summary>Tiny's configurations with a = 0 change nothing (null); the others are one trial per (a mod 3, b): 18 keys.</summary>
    private static readonly ConfigurationKey ModThree = new("mod-three", c => c.GetInt("a") == 0 ? null : $"{c.GetInt("a") % 3}:{c.GetString("b")}");

    private static ISearchStrategy Keyed(string name, SearchSpace space, long seed) => name switch
    {
        "random" => new RandomSearch(space, seed) { Key = ModThree },
        "evolution" => new RegularizedEvolution(space, Loss, seed, population: 8, sample: 3) { Key = ModThree },
        "annealing" => new SimulatedAnnealing(space, Loss, seed, temperature: 2, cooling: 0.9) { Key = ModThree },
        _ => new SuccessiveHalving(new RegularizedEvolution(space, Loss, seed, population: 8, sample: 3) { Key = ModThree }, Loss, minBudget: 1.0 / 9),
    };

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_key_makes_configurations_that_share_it_one_trial_and_a_null_key_is_never_proposed(string name)
    {
        foreach (var workers in new[] { 1, 4 })
        {
            var s = Run(Keyed(name, Tiny(), 3), Tiny(), TinyLoss, 500, workers);
            Assert.Equal(SearchStop.Exhausted, s.Stop);
            var fresh = s.Trials.Where(t => t.Budget == s.Trials.Min(u => u.Budget)).ToList();
            Assert.DoesNotContain(fresh, t => t.Configuration.GetInt("a") == 0);
            var keys = fresh.Select(t => ModThree.Of(t.Configuration)).ToList();
            Assert.Equal(18, keys.Count);
            Assert.Equal(18, keys.Distinct().Count());
        }
        Assert.Contains("\"key\":\"mod-three\"", new RandomSearch(Tiny(), 3) { Key = ModThree }.Settings);
        Assert.DoesNotContain("key", new RandomSearch(Tiny(), 3).Settings);
    }

    [Fact]
    public void Exhaustion_is_said_for_the_proposals_that_could_not_be_made()
    {
        var space = new SearchSpace(Parameter.Choice("m", "a", "b", "c"));
        var p = new RandomSearch(space, 1).Propose([], 5);
        Assert.True(p.Exhausted);
        Assert.Equal(3, p.Items.Select(i => i.Configuration.Hash).Distinct().Count());
    }

    [Fact]
    public void Evolution_finds_better_configurations_than_random_search_at_equal_trials_on_average()
    {
        // 6-dimensional bowl, 150 trials, 8 seeds: regularized evolution's best loss averages well under random's
        var seeds = Enumerable.Range(1, 8).ToList();
        var evolution = seeds.Average(s => BestLoss(Run(new RegularizedEvolution(Bowl(), Loss, s, population: 20, sample: 5), Bowl(), BowlLoss, 150)));
        var random = seeds.Average(s => BestLoss(Run(new RandomSearch(Bowl(), s), Bowl(), BowlLoss, 150)));
        Assert.True(evolution < 0.6 * random, $"evolution {evolution:F2}, random {random:F2}");
    }

    [Fact]
    public void Annealing_accepts_a_worse_state_at_a_high_temperature_and_not_at_a_low_one()
    {
        var space = Tiny();
        var first = Done(0, Configuration.Of(("a", 2), ("b", "s")), ("loss", 1.0));
        var worse = Done(1, Configuration.Of(("a", 3), ("b", "s")), ("loss", 2.0));
        Assert.Equal(1, new SimulatedAnnealing(space, Loss, 1, temperature: 1e9).Current([first, worse])!.Number);
        Assert.Equal(0, new SimulatedAnnealing(space, Loss, 1, temperature: 1e-9).Current([first, worse])!.Number);
        var better = worse with { Metrics = new Dictionary<string, double> { ["loss"] = 0.5 } };
        Assert.Equal(1, new SimulatedAnnealing(space, Loss, 1, temperature: 1e-9).Current([first, better])!.Number);
        var proposal = new SimulatedAnnealing(space, Loss, 1, temperature: 1e-9).Propose([first, worse], 1).Items.Single();
        Assert.Equal(("neighbour", 0), (proposal.Origin, proposal.Parent));
    }

    [Fact]
    public void Annealing_improves_on_its_start_and_refuses_several_goals()
    {
        var s = Run(new SimulatedAnnealing(Bowl(), Loss, 4, temperature: 5, cooling: 0.9), Bowl(), BowlLoss, 120);
        Assert.True(BestLoss(s) < s.Trials[0].Metrics["loss"] / 2, $"best {BestLoss(s)}, start {s.Trials[0].Metrics["loss"]}");
        var two = new Objective([new Goal("a", Direction.Minimize), new Goal("b", Direction.Maximize)], []);
        Assert.Equal("Goals", Assert.Throws<OptionsException>(() => new SimulatedAnnealing(Bowl(), two, 1)).Option);
    }

    [Fact]
    public void Evolution_mutates_the_tournament_winner_in_one_parameter()
    {
        var s = Run(new RegularizedEvolution(Bowl(), Loss, 9, population: 10, sample: 10), Bowl(), BowlLoss, 60);
        Assert.All(s.Trials.Take(10), t => Assert.Equal("random", t.Origin));
        foreach (var child in s.Trials.Skip(10).Where(t => t.Origin == "mutation"))
        {
            var parent = s.Trials[child.Parent!.Value];
            var population = s.Trials.Take(child.Number).Where(Loss.Ranks).TakeLast(10).ToList();
            Assert.Equal(population.Min(t => t.Metrics["loss"]), parent.Metrics["loss"]);  // S = P: the best of the population
            Assert.Equal(1, parent.Configuration.Names.Count(n => parent.Configuration.GetInt(n) != child.Configuration.GetInt(n)));
        }
        Assert.Equal("Sample", Assert.Throws<OptionsException>(() => new RegularizedEvolution(Bowl(), Loss, 1, population: 4, sample: 5)).Option);
    }
}

public class StrategySettingsTests
{
    [Fact]
    public void Settings_name_everything_the_proposals_depend_on()
    {
        var objective = Objective.Minimize("size", new Constraint("drop", Bound.AtMost, 0.5));
        var evolution = new RegularizedEvolution(SearchHarness.Tiny(), objective, 3, population: 10, sample: 4);
        Assert.Equal("""{"objective":{"constraints":[{"bound":"at-most","limit":0.5,"metric":"drop"}],"goals":[{"direction":"minimize","metric":"size"}]},"population":10,"sample":4,"seed":3,"strategy":"evolution"}""",
            evolution.Settings);
        Assert.NotEqual(evolution.Settings, new RegularizedEvolution(SearchHarness.Tiny(), objective, 4, population: 10, sample: 4).Settings);
        var sh = new SuccessiveHalving(new RandomSearch(SearchHarness.Tiny(), 3), objective, 0.25, eta: 2);
        Assert.StartsWith("""{"eta":2,"inner":{"seed":3,"strategy":"random"},"max_budget":1,"min_budget":0.25""", sh.Settings);
        Assert.Contains("\"temperature\":2", new SimulatedAnnealing(SearchHarness.Tiny(), objective, 3, temperature: 2).Settings);
    }

    [Fact]
    public void A_study_made_before_strategies_named_their_key_is_continued_with_the_key_and_other_differences_are_still_refused()
    {
        var key = new ConfigurationKey("recipe-stages", c => c.Hash);
        var objective = Objective.Minimize("size");
        var store = new MemoryTrialStore();
        Study.Open(store, "random", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 3).Settings);
        Study.Open(store, "halving", SearchHarness.Tiny(), new SuccessiveHalving(new RandomSearch(SearchHarness.Tiny(), 3), objective, 0.25).Settings);

        Study.Open(store, "random", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 3) { Key = key }.Settings, resume: true);
        Study.Open(store, "halving", SearchHarness.Tiny(), new SuccessiveHalving(new RandomSearch(SearchHarness.Tiny(), 3) { Key = key }, objective, 0.25).Settings, resume: true);

        var seed = Assert.Throws<OptionsException>(() => Study.Open(store, "random", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 4) { Key = key }.Settings, resume: true));
        Assert.StartsWith("search 'random' was started with other settings", seed.Message);
        Study.Open(store, "keyed", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 3) { Key = key }.Settings);
        var other = new ConfigurationKey("other", c => c.Hash);
        Assert.Throws<OptionsException>(() => Study.Open(store, "keyed", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 3) { Key = other }.Settings, resume: true));
        Assert.Throws<OptionsException>(() => Study.Open(store, "keyed", SearchHarness.Tiny(), new RandomSearch(SearchHarness.Tiny(), 3).Settings, resume: true));
    }
}
