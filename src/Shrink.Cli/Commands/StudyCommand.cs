using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Search;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink study status|migrate|synthetic</c>: the studies of a trial store. <c>status --storage URL [--study NAME] [--metric M]
/// [--maximize] [--json]</c> shows trials by state, workers alive, throughput and the best so far; <c>migrate FROM TO [--study NAME]</c>
/// copies studies between stores (SQLite ↔ PostgreSQL); <c>synthetic</c> coordinates a study of synthetic trials
/// (<see cref="SyntheticStudyCommand"/>).
/// </summary>
internal static class StudyCommand
{
    public static Option<string> Storage() => new("--storage")
    {
        Description = "The trial store: postgresql://[USER@]HOST[:PORT]/DATABASE[?schema=S&sslmode=require&retry=SECONDS] (password: PGPASSWORD or ~/.pgpass), or an SQLite file",
        Required = true,
    };

    public static Command Create(CliContext cli)
    {
        var command = new Command("study", "Show, move and exercise the studies of a trial store (SQLite or a shared PostgreSQL)");
        command.Subcommands.Add(Status(cli));
        command.Subcommands.Add(Migrate(cli));
        command.Subcommands.Add(SyntheticStudyCommand.Create(cli));
        return command;
    }

    private static Command Status(CliContext cli)
    {
        var storage = Storage();
        var study = new Option<string?>("--study") { Description = "The study (default: every study of the store)" };
        var metric = new Option<string>("--metric") { Description = "The metric the best trial is chosen by", DefaultValueFactory = _ => "loss" };
        var maximize = new Option<bool>("--maximize") { Description = "Higher is better for --metric" };
        var json = Options.Json();
        var command = new Command("status", "Trials by state, workers alive, throughput and the best trial of a store's studies") { storage, study, metric, maximize, json };
        command.SetAction(cli.Guard(p =>
        {
            var where = TrialStorage.Parse(p.GetValue(storage)!);
            using var store = where.Open();
            var studies = p.GetValue(study) is { } name
                ? [store.FindStudy(name) ?? throw new OptionsException($"there is no study '{name}' in {where.Display}; leave out --study to list them")]
                : store.Studies();
            var statuses = studies.Select(s => StudyStatus.Of(store, s, where.Display, p.GetValue(metric), p.GetValue(maximize))).ToList();
            if (p.GetValue(json)) cli.WriteJson(statuses);
            else if (statuses.Count == 0) cli.Out.WriteLine($"{where.Display} holds no study");
            else foreach (var s in statuses) StudyStatusText.Render(cli.Out, s, p.GetValue(metric)!);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static Command Migrate(CliContext cli)
    {
        var from = new Argument<string>("FROM") { Description = "The store to copy from (only read)" };
        var to = new Argument<string>("TO") { Description = "The store to copy into (created when missing)" };
        var study = new Option<string?>("--study") { Description = "Copy only this study (default: every study)" };
        var command = new Command("migrate", "Copy studies, with every trial as it is, from one trial store to another (SQLite, PostgreSQL)") { from, to, study };
        command.SetAction(cli.Guard(p =>
        {
            var (source, target) = (TrialStorage.Parse(p.GetValue(from)!), TrialStorage.Parse(p.GetValue(to)!));
            if (source.Display == target.Display) throw new OptionsException($"FROM and TO are the same store ({source.Display}); give another TO");
            if (!source.IsPostgres && !File.Exists(source.SqlitePath)) throw new OptionsException($"{source.SqlitePath} does not exist; give the trials.db of a run, or a postgresql:// URL");
            using var a = source.Open();
            using var b = target.Open();
            foreach (var (name, trials) in StudyMigration.Copy(a, b, p.GetValue(study)))
                cli.Out.WriteLine($"study {name}: {trials} trials copied from {source.Display} to {target.Display}");
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
