using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

public class SuccessiveHalvingTests
{
    [Fact]
    public void Rungs_grow_by_eta_up_to_the_full_budget()
    {
        Assert.Equal([1.0 / 9, 1.0 / 3, 1.0], new SuccessiveHalving(new RandomSearch(Bowl(), 1), Loss, 1.0 / 9).Rungs);
        Assert.Equal([0.1, 0.2, 0.4, 0.8, 1.0], new SuccessiveHalving(new RandomSearch(Bowl(), 1), Loss, 0.1, eta: 2).Rungs);
        Assert.Equal("Eta", Assert.Throws<OptionsException>(() => new SuccessiveHalving(new RandomSearch(Bowl(), 1), Loss, 0.1, eta: 1)).Option);
        Assert.Equal("MinBudget", Assert.Throws<OptionsException>(() => new SuccessiveHalving(new RandomSearch(Bowl(), 1), Loss, 0)).Option);
    }

    [Fact]
    public void The_best_third_of_each_rung_is_promoted_with_the_same_configuration_and_a_larger_budget()
    {
        var sh = new SuccessiveHalving(new RandomSearch(Bowl(), 2), Loss, 1.0 / 9);
        // the loss does not depend on the budget here, so rankings agree across rungs
        var s = Run(sh, Bowl(), BowlLoss, 60);
        var byRung = s.Trials.GroupBy(sh.Rung).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal([0, 1, 2], byRung.Keys.Order());
        foreach (var promoted in s.Trials.Where(t => sh.Rung(t) > 0))
        {
            Assert.Equal("promotion", promoted.Origin);
            var parent = s.Trials[promoted.Parent!.Value];
            Assert.Equal((parent.Hash, sh.Rung(parent) + 1), (promoted.Hash, sh.Rung(promoted)));
            // when it was written, its parent was in the best ⌊n/3⌋ of the n ranked trials of its rung
            var rung = s.Trials.Take(promoted.Number).Where(t => sh.Rung(t) == sh.Rung(parent) && Loss.Ranks(t))
                .OrderBy(t => t.Metrics["loss"]).ThenBy(t => t.Number).ToList();
            Assert.Contains(parent, rung.Take(rung.Count / 3));
        }
        var rung0 = byRung[0].Count;
        Assert.InRange(byRung[1].Count, rung0 / 3 - 1, rung0 / 3);
        Assert.Contains(byRung[0].Where(t => t.Number < s.Trials.Count - 10).MinBy(t => t.Metrics["loss"])!.Hash, byRung[1].Select(t => t.Hash));
    }

    [Fact]
    public void The_objective_reads_each_trial_budget()
    {
        var sh = new SuccessiveHalving(new RandomSearch(Tiny(), 2), Loss, 0.25, eta: 2);
        var study = Study.Open(new MemoryTrialStore(), "s", Tiny());
        var budgets = new List<double>();
        new SearchRunner(study, sh, new SearchRunOptions { MaxTrials = 20 }).RunAsync((c, ctx, _) =>
        {
            budgets.Add(ctx.Budget);
            return Task.FromResult(TrialResult.Completed(new Dictionary<string, double> { ["loss"] = TinyLoss(c) / ctx.Budget }));
        }).GetAwaiter().GetResult();
        Assert.Equal(study.Trials().Select(t => t.Budget), budgets);
        Assert.Equal([0.25, 0.5, 1.0], budgets.Distinct().Order());
    }
}
