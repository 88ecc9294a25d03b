using System.Text.Json;
using Shrink.Search;
using Xunit;

namespace Shrink.Tests.Search;

public class SearchSpaceTests
{
    internal static SearchSpace Quantization() => new(
        Parameter.Choice("bits", 4, 8, "float"),
        Parameter.Int("block", 32, 128, 48).OnlyWhen("bits", 4),
        Parameter.Bool("symmetric").OnlyWhen("bits", 4, 8));

    [Fact]
    public void A_conditional_parameter_is_active_only_under_its_parent_values_and_the_size_counts_that()
    {
        var space = Quantization();
        // bits=4: block {32, 80, 128} × symmetric 2 = 6; bits=8: symmetric 2; float: 1
        Assert.Equal(9, space.Size);
        var all = space.Enumerate().ToList();
        Assert.Equal(9, all.Select(c => c.Hash).Distinct().Count());
        Assert.All(all, c => Assert.Equal(c.Has("block"), c.Has("bits") && c["bits"].ValueKind == JsonValueKind.Number && c.GetInt("bits") == 4));
        Assert.Single(all, c => c.Count == 1);
        var random = new SearchRandom(7);
        for (var i = 0; i < 200; i++)
        {
            var c = space.Sample(random);
            Assert.Equal(c, space.Check(c));
            Assert.Equal(c.Has("symmetric"), c["bits"].ValueKind == JsonValueKind.Number);
        }
    }

    [Fact]
    public void Mutating_a_parent_draws_the_children_it_switches_on_and_drops_those_it_switches_off()
    {
        var space = Quantization();
        var start = Configuration.Of(("bits", 4), ("block", 80), ("symmetric", true));
        var random = new SearchRandom(1);
        for (var i = 0; i < 100; i++)
        {
            var m = Mutation.One(space, start, random, local: false)!;
            Assert.Equal(m, space.Check(m));
            Assert.NotEqual(start, m);
            var changed = m.Names.Union(start.Names).Count(n => !m.Has(n) || !start.Has(n) || CanonicalJson.Of(m[n]) != CanonicalJson.Of(start[n]));
            if (m.Has("block")) Assert.Equal(1, changed);  // one parameter, no child switched
        }
    }

    [Fact]
    public void Per_group_parameters_are_made_from_a_template()
    {
        var groups = Parameter.PerGroup(Parameter.Float("sparsity", 0, 0.8, step: 0.2).OnlyWhen("prune", true), ["conv1", "fc"]).ToList();
        var space = new SearchSpace([Parameter.Bool("prune"), .. groups]);
        Assert.Equal(["prune", "sparsity[conv1]", "sparsity[fc]"], space.Parameters.Select(p => p.Name));
        Assert.Equal(1 + 25, space.Size);
    }

    [Fact]
    public void The_size_of_many_conditional_groups_is_counted_without_enumerating_them()
    {
        var groups = Enumerable.Range(0, 20).Select(i => $"g{i}").ToList();
        var parameters = groups.SelectMany(g => new Parameter[] { Parameter.Bool($"prune[{g}]"), Parameter.Int($"keep[{g}]", 1, 10).OnlyWhen($"prune[{g}]", true) });
        var space = new SearchSpace(parameters);
        Assert.Equal(Math.Pow(11, 20), space.Size, 1e6);  // per group: off, or on with 10 widths
        var c = space.Sample(new SearchRandom(3));
        Assert.All(groups, g => Assert.Equal(c.GetBool($"prune[{g}]"), c.Has($"keep[{g}]")));
    }

    [Fact]
    public void Space_json_and_hash_are_stable_and_differ_between_spaces()
    {
        Assert.Equal(Quantization().Hash, Quantization().Hash);
        Assert.NotEqual(Quantization().Hash, new SearchSpace(Parameter.Choice("bits", 4, 8)).Hash);
        Assert.Contains("\"when\":{\"parent\":\"bits\",\"values\":[4]}", Quantization().Json);
    }

    [Theory]
    [InlineData("dup", "Parameters", "hold two parameters named 'a'")]
    [InlineData("unknown-parent", "Condition", "of parameter 'b' names 'zz', which is not a parameter before it")]
    [InlineData("later-parent", "Condition", "of parameter 'b' names 'c', which is not a parameter before it")]
    [InlineData("bad-value", "Condition", "of parameter 'b' asks for a = 3, which 'a' cannot take")]
    [InlineData("continuous-parent", "Condition", "of parameter 'b' hangs on 'f', a continuous range")]
    [InlineData("int-range", "High", "of parameter 'n' must be at least low (8), got 4")]
    [InlineData("int-step", "Step", "of parameter 'n' must be at least 1, got 0")]
    [InlineData("log-low", "Low", "of parameter 'lr' must be above 0 on a log scale, got 0")]
    [InlineData("log-step", "Step", "of parameter 'lr' cannot be given on a log scale")]
    [InlineData("no-choices", "Choices", "of parameter 'm' is empty")]
    [InlineData("dup-choices", "Choices", "of parameter 'm' lists \"x\" twice")]
    [InlineData("no-name", "Name", "of a parameter is empty")]
    public void An_invalid_space_is_one_options_error_naming_the_property_and_the_parameter(string which, string option, string problem)
    {
        Parameter[] parameters = which switch
        {
            "dup" => [Parameter.Bool("a"), Parameter.Int("a", 0, 3)],
            "unknown-parent" => [Parameter.Int("a", 1, 2), Parameter.Bool("b").OnlyWhen("zz", 1)],
            "later-parent" => [Parameter.Bool("b").OnlyWhen("c", true), Parameter.Bool("c")],
            "bad-value" => [Parameter.Int("a", 1, 2), Parameter.Bool("b").OnlyWhen("a", 3)],
            "continuous-parent" => [Parameter.Float("f", 0, 1), Parameter.Bool("b").OnlyWhen("f", 0.5)],
            "int-range" => [Parameter.Int("n", 8, 4)],
            "int-step" => [Parameter.Int("n", 0, 4, 0)],
            "log-low" => [Parameter.Float("lr", 0, 1, log: true)],
            "log-step" => [Parameter.Float("lr", 0.1, 1, log: true, step: 0.1)],
            "no-choices" => [Parameter.Choice("m")],
            "dup-choices" => [Parameter.Choice("m", "x", "y", "x")],
            _ => [Parameter.Bool(" ")],
        };
        var e = Assert.Throws<OptionsException>(() => new SearchSpace(parameters));
        Assert.Equal(option, e.Option);
        Assert.StartsWith(problem, e.Problem);
        Assert.DoesNotContain("--", e.Message);
    }

    [Fact]
    public void Checking_a_configuration_names_the_parameter_that_does_not_fit()
    {
        var space = Quantization();
        Assert.Contains("'block' is given but not active", Assert.Throws<OptionsException>(() => space.Check(Configuration.Of(("bits", 8), ("block", 32), ("symmetric", true)))).Message);
        Assert.Contains("'block' cannot take 33", Assert.Throws<OptionsException>(() => space.Check(Configuration.Of(("bits", 4), ("block", 33), ("symmetric", true)))).Message);
        Assert.Contains("'symmetric' has no value", Assert.Throws<OptionsException>(() => space.Check(Configuration.Of(("bits", 8)))).Message);
        Assert.Contains("'extra' is not a parameter", Assert.Throws<OptionsException>(() => space.Check(Configuration.Of(("bits", "float"), ("extra", 1)))).Message);
    }
}
