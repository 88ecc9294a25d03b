using System.CommandLine;
using Shrink.Cli.Commands;

namespace Shrink.Cli;

/// <summary>
/// The <c>shrink</c> command. Exit codes: 0 success; 2 bad usage or bad input (one line saying what
/// is wrong and how to mend it, nothing written); 1 internal error; 130 training interrupted (checkpoint written).
/// </summary>
public static class ShrinkApp
{
    public const int Ok = 0, InternalError = 1, BadInput = 2, Interrupted = 130;

    /// <summary>Parses and runs a command line, writing to the given streams; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        Training.TrainingTechniques.Register();
        var cli = new CliContext(stdout, stderr);
        var root = new RootCommand("Shrink makes trained neural networks smaller and faster: ONNX in, ONNX out, checked in ONNX Runtime.");
        foreach (var command in Commands(cli)) root.Subcommands.Add(command);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var name = command == root ? "shrink" : $"shrink {command.Name}";
            var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            stderr.WriteLine($"error: {Shrink.Text.Message.OneLine(System.Text.RegularExpressions.Regex.Replace(error.Message, @"\s*\n\s*", " "))} (see '{name} --help')");
            return BadInput;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    private static IEnumerable<Command> Commands(CliContext cli) => new[]
    {
        InspectCommand.Create(cli), ZooCommand.Create(cli), EvalCommand.Create(cli),
        BenchCommand.Create(cli), RunCommand.Create(cli), ConvertCommand.Create(cli), TrainCommand.Create(cli),
        PruneCommand.Create(cli), SensitivityCommand.Create(cli), QuantizeCommand.Create(cli), DistillCommand.Create(cli),
        ClusterCommand.Create(cli), PackCommand.CreatePack(cli), PackCommand.CreateUnpack(cli), FactorizeCommand.Create(cli), MergeCommand.Create(cli),
        RecipeCommand.Create(cli), CompareCommand.Create(cli), OptimizeCommand.Create(cli), SearchCommand.Create(cli),
        ReportCommand.Create(cli),
        SplitCommand.Create(cli),
        WorkerCommand.Create(cli), StudyCommand.Create(cli),
    };
}
