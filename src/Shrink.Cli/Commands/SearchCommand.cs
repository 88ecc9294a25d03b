using System.CommandLine;
using Shrink.Architecture;
using Shrink.Techniques;
using Shrink.Training.Architecture;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink search --space SPACE.yaml --data D [--strategy evolution|random|annealing|halving] [--trials N] [--epochs-per-trial E]
/// [--optimizer adam|sgd|adamw] [--lr R] [--weight-decay W] [--schedule none|step|cosine] [--batch 128] … [--teacher T [--temperature 4] [--alpha 0.9]] [--objective accuracy,latency_b1] [--constraint 'params &lt; 100k']… [--workers N] [--seed S] [--final-epochs K]
/// [--latency measured|table|table-only] [--references lenet5,lenet300,vgg-small|NAME=FILE.onnx|none]
/// --out DIR [--resume] [--json]</c>: hardware-aware architecture search (<see cref="ArchitectureSearch"/>). Exit code 0 when
/// the run ends, 2 for bad input (nothing written), 130 when interrupted (continue with --resume).
/// </summary>
internal static class SearchCommand
{
    public static Command Create(CliContext cli)
    {
        var f = new SearchCli();
        var data = new DataCli("Data: the training split trains each candidate, the test split scores it. " + DataCli.Description, f.Seed, trains: true);
        var json = Options.Json();
        var command = new Command("search", "Search a space of network architectures for the most accurate and fastest models on this machine") { json };
        foreach (var o in f.All) command.Options.Add(o);
        data.AddTo(command);
        cli.Flags(command, SearchCli.Aliases);
        command.SetAction(cli.Guard(p =>
        {
            var teacher = f.Teacher.Build(p);
            var options = f.Build(p, teacher?.Options);
            var spacePath = Path.GetFullPath(p.GetValue(f.Space)!);
            if (!File.Exists(spacePath)) throw new OptionsException($"the space file {spacePath} does not exist; give a YAML file to --space (examples in spaces/)");
            var space = ArchitectureSpace.Load(spacePath);
            if (!data.Given(p)) throw new OptionsException("search needs --data: it trains each candidate on the training split and scores it on the test split (e.g. --data embedded)");
            var recipeData = data.Recipe(p) with { Teacher = teacher is null ? null : Path.GetFullPath(teacher.Source), TrainLimit = Options.CheckLimit(p.GetValue(f.Limit)) };
            ArchitectureSearchResult? result = null;
            var code = RecipeCli.UntilCtrlC(cli, s =>
            {
                var session = new TechniqueSession { Cancel = s.Cancel, Notes = cli.Note, Naming = cli.Naming, Verbosity = cli.Verbosity };
                result = ArchitectureSearch.Run(space, recipeData, options, p.GetValue(f.Out)!, session, e => SearchCli.Progress(cli, e));
            });
            if (result is null) return code;
            if (p.GetValue(json)) cli.WriteJson(result);
            else SearchCli.Result(cli, result);
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
