using Shrink.Search;
using Xunit;
using static Shrink.Tests.Search.SearchHarness;

namespace Shrink.Tests.Search;

public class ParetoTests
{
    // size (minimize) and accuracy (maximize): A(1, .95) B(2, .98) C(3, .99) are the front; D(2, .96) is dominated by B;
    // E(4, .96) by B and C and by D; F(5, .95) by E; G(0.5, .999) would dominate all but breaks the constraint.
    private static readonly (string Name, double Size, double Accuracy)[] Points =
        [("A", 1, 0.95), ("B", 2, 0.98), ("C", 3, 0.99), ("D", 2, 0.96), ("E", 4, 0.96), ("F", 5, 0.95), ("G", 0.5, 0.999)];

    private static readonly Objective SizeAndAccuracy = new(
        [new Goal("size", Direction.Minimize), new Goal("accuracy", Direction.Maximize)],
        [new Constraint("drop", Bound.AtMost, 0.5)]);

    private static List<Trial> Trials() => Points.Select((p, i) => Done(i, Configuration.Of(("name", p.Name)),
        ("size", p.Size), ("accuracy", p.Accuracy), ("drop", p.Name == "G" ? 0.9 : 0.1))).ToList();

    private static string Names(IEnumerable<Trial> trials) => string.Concat(trials.Select(t => t.Configuration.GetString("name")));

    [Fact]
    public void The_front_of_hand_made_points_is_the_non_dominated_feasible_ones()
    {
        Assert.Equal("ABC", Names(Pareto.Front(Trials(), SizeAndAccuracy)));
        Assert.Equal(["ABC", "D", "E", "F", "G"], Pareto.Sort(Trials(), SizeAndAccuracy).Select(Names));
    }

    [Fact]
    public void Without_the_constraint_the_infeasible_point_dominates_the_rest()
    {
        var free = SizeAndAccuracy with { Constraints = [] };
        Assert.Equal("G", Names(Pareto.Front(Trials(), free)));
        Assert.Equal([[0, 2], [1], [3]], Pareto.Sort([[1.0, 2], [2, 2], [2, 1], [3, 3]]).Select(f => f.ToArray()));
    }

    [Fact]
    public void Failed_and_unmeasured_trials_are_never_on_a_front_and_the_scalar_best_prefers_feasible()
    {
        var trials = Trials();
        trials.Add(Done(7, Configuration.Of(("name", "H")), ("size", 0.1)));  // accuracy missing
        trials.Add(Done(8, Configuration.Of(("name", "I")), ("size", 0.1), ("accuracy", 1)) with { Status = TrialStatus.Failed });
        Assert.Equal("ABC", Names(Pareto.Front(trials, SizeAndAccuracy)));
        var smallest = Objective.Minimize("size", new Constraint("drop", Bound.AtMost, 0.5));
        Assert.Equal("A", Names([smallest.Best(trials)!]));
        Assert.Equal("G", Names([Objective.Minimize("size").Best(trials.Take(7))!]));
    }
}
