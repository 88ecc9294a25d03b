using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Shrink.Search;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink study status|migrate|synthetic</c>: the studies of a trial store. <c>status --storage URL [--study NAME] [--metric M]
/// [--maximize] [--json]</c> shows trials by state, workers alive, throughput and the best so far; <c>migrate FROM TO [--study NAME]</c>
/// copies studies between stores (SQLite ↔ PostgreSQL); <c>synthetic --storage URL --study NAME --trials N --seconds S
/// [--artifacts DIR] [--input FILE] [--resume]</c> coordinates a study of synthetic trials (<see cref="SyntheticJob"/>) for
/// measuring a store and its workers.
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
        command.Subcommands.Add(Synthetic(cli));
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
            else foreach (var s in statuses) Render(cli, s, p.GetValue(metric)!);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static void Render(CliContext cli, StudyStatus s, string metric)
    {
        var states = string.Join(", ", s.States.Where(kv => kv.Value > 0).Select(kv => $"{kv.Value} {kv.Key}"));
        cli.Out.WriteLine($"study {s.Study}: {s.Trials} trials ({(states.Length == 0 ? "none yet" : states)}), {s.Retried} retried, {s.LateResults} late results kept");
        cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  throughput: {s.PerMinuteRecent:0.0} trials/min over the last 10 min, {s.PerMinuteOverall:0.0} over the study"));
        var alive = s.Workers.Where(w => w.Alive).ToList();
        cli.Out.WriteLine($"  workers alive: {alive.Count(w => w.Role == "worker")} ({alive.Where(w => w.Role == "worker").Sum(w => w.Threads)} slots), coordinators alive: {alive.Count(w => w.Role == "coordinator")}");
        foreach (var w in alive)
            cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {w.Role} {w.Name}: Shrink {w.Version}, {w.Finished} finished, heartbeat {w.SecondsSinceHeartbeat:0} s ago"));
        cli.Out.WriteLine(s.Best is { } b
            ? string.Create(CultureInfo.InvariantCulture, $"  best: trial {b.Number + 1}, {metric} {b.Metrics[metric]:G6} ({b.Configuration.Json})")
            : $"  best: no completed trial with {metric} yet");
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

    private static Command Synthetic(CliContext cli)
    {
        var storage = Storage();
        var study = new Option<string>("--study") { Description = "The study's name", DefaultValueFactory = _ => "synthetic" };
        var trials = new Option<int>("--trials") { Description = "Trials in the study", Required = true };
        var seconds = new Option<double>("--seconds") { Description = "Seconds of (sleeping) work per trial", DefaultValueFactory = _ => 0.5 };
        var artifacts = new Option<string?>("--artifacts") { Description = "Shared artifacts directory: trials write their models there" };
        var input = new Option<string?>("--input") { Description = "A file put in --artifacts that every worker verifies before its first trial" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random proposals", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the study (a restarted coordinator)" };
        var queue = new Option<int>("--queue") { Description = "Pending trials kept waiting at least (more when the live workers have more free slots)", DefaultValueFactory = _ => 2 };
        var wall = new Option<double?>("--wall-time") { Description = "Seconds after which this coordinator returns; workers go on with what is written" };
        var json = Options.Json();
        var command = new Command("synthetic", "Coordinate a study of synthetic trials that workers run (measures the store's bookkeeping)") { storage, study, trials, seconds, artifacts, input, seed, resume, queue, wall, json };
        command.SetAction(cli.Guard(p =>
        {
            var where = TrialStorage.Parse(p.GetValue(storage)!);
            if (p.GetValue(seconds) is var s && (s < 0 || !double.IsFinite(s))) throw new OptionsException($"--seconds must be 0 or more, got {s}");
            if (p.GetValue(input) is not null && p.GetValue(artifacts) is null) throw new OptionsException("--input needs --artifacts: the file is put there for the workers to verify");
            if (p.GetValue(input) is { } file && !File.Exists(file)) throw new OptionsException($"the input file {Path.GetFullPath(file)} does not exist");
            var options = new CoordinatorOptions
            {
                MaxTrials = p.GetValue(trials), Poll = TimeSpan.FromMilliseconds(200), Ahead = p.GetValue(queue),
                WallTime = p.GetValue(wall) is { } w ? TimeSpan.FromSeconds(w) : null,
            };
            options.Validate();
            using var store = where.Open();
            var reference = p.GetValue(input) is { } f ? new ArtifactStore(p.GetValue(artifacts)!).Put(f) : null;
            var job = SyntheticJob.Job(s, p.GetValue(artifacts), reference);
            var strategy = new RandomSearch(SyntheticJob.Space(), p.GetValue(seed));
            var opened = Study.Open(store, p.GetValue(study)!, SyntheticJob.Space(), strategy.Settings, p.GetValue(resume), job.ToJson());
            using var cancel = new CancellationTokenSource();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var summary = UntilStopped(cancel, () => new SearchCoordinator(opened, strategy, options).RunAsync(cancel.Token).GetAwaiter().GetResult());
            var done = summary.Trials.Count(t => t.IsFinished);
            if (p.GetValue(json)) cli.WriteJson(new { summary.Finished, Trials = summary.Trials.Count, Done = done, Stop = summary.Stop.Name(), Seconds = clock.Elapsed.TotalSeconds });
            else cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"study {opened.Name}: {done} of {summary.Trials.Count} trials finished ({summary.Finished} seen by this run) in {clock.Elapsed.TotalSeconds:0.0} s; stop: {summary.Stop.Name()}"));
            return summary.Stop == SearchStop.Cancelled ? TrainingCli.Interrupted : ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>Runs <paramref name="body"/> with Ctrl-C and SIGTERM cancelling <paramref name="cancel"/> (the body gives back what runs).</summary>
    public static T UntilStopped<T>(CancellationTokenSource cancel, Func<T> body)
    {
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        System.Console.CancelKeyPress += onCancel;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        try
        {
            return body();
        }
        finally
        {
            System.Console.CancelKeyPress -= onCancel;
        }
    }
}
