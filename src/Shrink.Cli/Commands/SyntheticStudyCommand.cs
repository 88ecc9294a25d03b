using System.CommandLine;
using System.Globalization;
using Shrink.Search;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink study synthetic --storage URL --study NAME --trials N --seconds S [--artifacts DIR] [--input FILE] [--resume]</c>:
/// coordinates a study of synthetic trials (<see cref="SyntheticJob.Coordinate"/>) for measuring a store and its workers.
/// </summary>
internal static class SyntheticStudyCommand
{
    public static Command Create(CliContext cli)
    {
        var storage = StudyCommand.Storage();
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
            var options = new SyntheticStudyOptions
            {
                Study = p.GetValue(study)!, Seconds = p.GetValue(seconds), Artifacts = p.GetValue(artifacts), Input = p.GetValue(input),
                Seed = p.GetValue(seed), Resume = p.GetValue(resume),
            }.Validate();
            var coordinator = new CoordinatorOptions
            {
                MaxTrials = p.GetValue(trials), Poll = TimeSpan.FromMilliseconds(200), Ahead = p.GetValue(queue),
                WallTime = p.GetValue(wall) is { } w ? TimeSpan.FromSeconds(w) : null,
            };
            using var store = where.Open();
            using var cancel = new CancellationTokenSource();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (opened, summary) = CliSignals.UntilStopped(cancel, () => SyntheticJob.Coordinate(store, options, coordinator, cancel.Token));
            var done = summary.Trials.Count(t => t.IsFinished);
            if (p.GetValue(json)) cli.WriteJson(new { summary.Finished, Trials = summary.Trials.Count, Done = done, Stop = summary.Stop.Name(), Seconds = clock.Elapsed.TotalSeconds });
            else cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"study {opened.Name}: {done} of {summary.Trials.Count} trials finished ({summary.Finished} seen by this run) in {clock.Elapsed.TotalSeconds:0.0} s; stop: {summary.Stop.Name()}"));
            return summary.Stop == SearchStop.Cancelled ? TrainingCli.Interrupted : ShrinkApp.Ok;
        }));
        return command;
    }
}
