using System.CommandLine;
using Shrink.Cli;
using Shrink.Text;
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

    private static (int Code, string Err) Throw(Exception error, params Option[] options)
    {
        var err = new StringWriter();
        var cli = new CliContext(new StringWriter(), err);
        var command = new Command("demo");
        foreach (var o in options) command.Options.Add(o);
        command.SetAction(cli.Guard(_ => throw error));
        var code = new RootCommand { command }.Parse(new[] { "demo" }).Invoke();
        return (code, err.ToString().Trim());
    }

    [Fact]
    public void Options_named_inside_a_message_are_printed_as_the_flags_that_set_them()
    {
        var error = new OptionsException(OptionText.Of($"no checkpoint at {"r/checkpoint.bin"}; start the run without {OptionName.Of("Resume")}, or use a new {OptionName.Of("RunDirectory")}"));
        Assert.Equal("no checkpoint at r/checkpoint.bin; start the run without resume, or use a new run directory", error.Message);

        var (code, err) = Throw(error, new Option<bool>("--resume"), new Option<string>("--run-dir"));
        Assert.Equal(2, code);
        Assert.Equal("error: no checkpoint at r/checkpoint.bin; start the run without --resume, or use a new --run-dir", err);
        // A command without those flags keeps the library's words.
        Assert.Equal("error: no checkpoint at r/checkpoint.bin; start the run without resume, or use a new run directory", Throw(error).Err);
    }

    [Fact]
    public void Every_kind_of_user_error_is_rendered_with_the_commands_flags()
    {
        var error = new DataException(OptionText.Of($"pass {OptionName.Of("Data")} DIR"));
        Assert.Equal((2, "error: pass --data DIR"), Throw(error, new Option<string>("--data")));
    }

    [Theory]
    [InlineData("Output", "--out", "--out", "--output")]              // a shared flag comes before a kebab-case match
    [InlineData("Batches", "--bench-batch", "--batch", "--bench-batch")] // the first shared flag the command has
    [InlineData("Batches", "--batch", "--batch", "--runs")]
    [InlineData("DimValues", "--dim", "--dim", "--runs")]
    [InlineData("LowBitStorage", "--storage", "--storage", "--weights")]
    [InlineData("LayerBits", "--layers", "--layers", "--bits")]
    public void Properties_every_command_sets_by_one_flag_need_no_alias(string property, string expected, string flag, string other)
    {
        var error = new OptionsException(OptionText.Of($"give {OptionName.Of(property)} 1"));
        Assert.Equal($"error: give {expected} 1", Throw(error, new Option<string>(flag), new Option<string>(other)).Err);
    }

    [Fact]
    public void A_commands_alias_comes_before_the_shared_flags()
    {
        var err = new StringWriter();
        var cli = new CliContext(new StringWriter(), err);
        var command = new Command("demo") { new Option<string>("--out"), new Option<string>("--model-out") };
        cli.Flags(command, ("Output", "--model-out"));
        command.SetAction(cli.Guard(_ => throw new OptionsException(OptionText.Of($"{OptionName.Of("Output", "output")} 'x' is a directory"))));
        new RootCommand { command }.Parse(new[] { "demo" }).Invoke();
        Assert.Equal("error: --model-out 'x' is a directory", err.ToString().Trim());
    }

    [Fact]
    public void Notes_of_a_commands_session_name_its_flags()
    {
        var err = new StringWriter();
        var cli = new CliContext(new StringWriter(), err);
        var command = new Command("demo") { new Option<string>("--reduce-range") };
        command.SetAction(cli.Guard(_ =>
        {
            cli.Session().Note(OptionText.Of($"int8 weights use 7 bits ({OptionName.Of("ReduceRange")} on)"));
            return 0;
        }));
        Assert.Equal(0, new RootCommand { command }.Parse(new[] { "demo" }).Invoke());
        Assert.Equal("int8 weights use 7 bits (--reduce-range on)", err.ToString().Trim());
        // Outside a command's body the CLI has no flags to name: the library's words.
        Assert.Equal("reduce range", cli.Naming(OptionName.Of("ReduceRange")));
    }
}
