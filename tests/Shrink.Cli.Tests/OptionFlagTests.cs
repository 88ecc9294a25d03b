using System.CommandLine;
using Shrink.Cli;
using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>Library errors name options-record properties; the CLI prints the flag that set them.</summary>
public class OptionFlagTests
{
    private static (int Code, string Err) Run(Action<CliContext, Command> setup, string problemOf, params string[] args)
    {
        var err = new StringWriter();
        var cli = new CliContext(new StringWriter(), err);
        var command = new Command("demo") { new Option<int>("--channel-multiple"), new Option<double>("--lr") };
        setup(cli, command);
        command.SetAction(cli.Guard(_ => throw OptionsException.For(problemOf, "must be at least 1, got 0")));
        var root = new RootCommand { command };
        var code = root.Parse(args).Invoke();
        return (code, err.ToString().Trim());
    }

    [Fact]
    public void A_property_whose_kebab_name_is_a_flag_is_printed_as_that_flag()
    {
        var (code, err) = Run((_, _) => { }, "ChannelMultiple", "demo");
        Assert.Equal(2, code);
        Assert.Equal("error: --channel-multiple must be at least 1, got 0", err);
    }

    [Fact]
    public void An_alias_maps_a_property_to_a_flag_of_another_name()
    {
        var (_, err) = Run((cli, c) => cli.Flags(c, ("LearningRate", "--lr")), "LearningRate", "demo");
        Assert.Equal("error: --lr must be at least 1, got 0", err);
    }

    [Fact]
    public void A_property_no_flag_sets_keeps_the_library_words()
    {
        var (_, err) = Run((_, _) => { }, "EvalBatchSize", "demo");
        Assert.Equal("error: eval batch size must be at least 1, got 0", err);
        Assert.Equal("eval batch size must be at least 1, got 0", OptionsException.For("EvalBatchSize", "must be at least 1, got 0").Message);
    }
}
