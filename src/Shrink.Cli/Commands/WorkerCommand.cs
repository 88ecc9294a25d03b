using System.CommandLine;
using System.Runtime.InteropServices;
using Shrink.Search;
using Shrink.Training.Architecture;
using Shrink.Training.Optimization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink worker --storage URL [--threads T] [--study NAME] [--lease SECONDS] [--idle-exit SECONDS] [--json]</c>: a worker of a
/// shared trial store (<see cref="TrialWorker"/>) on this machine: claims the pending trials its coordinators wrote, runs them
/// and writes their results, until Ctrl-C or SIGTERM (its running trials are given back as pending, exit code 130) or, with
/// --idle-exit, until no trial came for that long (exit code 0). An unreachable store, a missing study or a study of another
/// Shrink version: one line, exit code 2. It runs the synthetic, optimize and search kinds of job (<c>--role coordinator</c> of
/// <c>shrink optimize</c> and <c>shrink search</c>).
/// </summary>
internal static class WorkerCommand
{
    /// <summary>The job kinds the <c>shrink</c> command's workers run.</summary>
    public static TrialJobs Jobs() => ArchitectureJob.Register(OptimizeJob.Register(SyntheticJob.Register(new TrialJobs())));

    public static Command Create(CliContext cli)
    {
        var storage = StudyCommand.Storage();
        var threads = new Option<int>("--threads") { Description = "Trials run at once on this machine", DefaultValueFactory = _ => 1 };
        var study = new Option<string?>("--study") { Description = "Serve only this study (default: every study whose job this worker runs)" };
        var lease = new Option<double>("--lease") { Description = "Seconds a claim holds; renewed every third of it while the trial runs", DefaultValueFactory = _ => 60 };
        var idle = new Option<double?>("--idle-exit") { Description = "Exit after this many seconds without a trial to run (default: run until stopped)" };
        var json = Options.Json();
        var command = new Command("worker", "Run trials of a shared trial store (PostgreSQL) on this machine, for coordinators elsewhere") { storage, threads, study, lease, idle, json };
        command.SetAction(cli.Guard(p =>
        {
            var where = TrialStorage.Parse(p.GetValue(storage)!);
            var options = new TrialWorkerOptions
            {
                Threads = p.GetValue(threads), Study = p.GetValue(study), Lease = TimeSpan.FromSeconds(p.GetValue(lease)),
                IdleExit = p.GetValue(idle) is { } s ? TimeSpan.FromSeconds(s) : null, Note = cli.Note,
                Finished = (t, written) => cli.Note(written is null ? $"trial {t.Number + 1}: late, not used"
                    : $"trial {t.Number + 1}: {written.Status.ToString().ToLowerInvariant()} in {written.Seconds:0.00} s{(written.Error is { } why ? $": {why}" : "")}"),
            };
            options.Validate();
            using var store = where.Open();
            using var cancel = new CancellationTokenSource();
            var summary = CliSignals.UntilStopped(cancel, () => new TrialWorker(store, Jobs(), options).RunAsync(cancel.Token).GetAwaiter().GetResult());
            if (p.GetValue(json)) cli.WriteJson(summary);
            else cli.Out.WriteLine($"{summary.Finished} trials finished, {summary.Late} late results kept, {summary.Released} given back");
            return cancel.IsCancellationRequested ? TrainingCli.Interrupted : ShrinkApp.Ok;
        }));
        return command;
    }
}
