using System.CommandLine;
using Spectre.Console;
using Shrink.Techniques;
using Shrink.Training;

namespace Shrink.Cli;

/// <summary>
/// The session a command's training runs in (<see cref="TrainingSession"/>): Ctrl-C cancels its token (the
/// training writes a checkpoint and the command exits 130; a second Ctrl-C ends the process), a progress bar
/// from its progress on an interactive stderr, notes on stderr, and — for <c>train</c> and <c>distill</c> —
/// one line per epoch on stdout. While it is open, <see cref="CliContext.Session"/> gives its session to the
/// command's techniques. Dispose unhooks Ctrl-C.
/// </summary>
internal sealed class CliSession : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly ConsoleCancelEventHandler _onCancel;
    private readonly ProgressLine? _bar;
    private readonly string? _removeWhenDone;
    private readonly CliContext _cli;

    /// <param name="cli">Where it prints.</param>
    /// <param name="runDirectory">The run directory (null: training keeps no checkpoints).</param>
    /// <param name="resume">Continue the runs in it.</param>
    /// <param name="quiet">No progress bar and no epoch lines (<c>--json</c>).</param>
    /// <param name="epochLines">Print a line per finished epoch on stdout.</param>
    /// <param name="removeWhenDone">Remove the run directory's checkpoints in <see cref="Succeeded"/> (a default run directory).</param>
    public CliSession(CliContext cli, string? runDirectory, bool resume, bool quiet = false, bool epochLines = false, bool removeWhenDone = false)
    {
        _cli = cli;
        _bar = quiet ? null : ProgressLine.ForStderr(cli);
        _removeWhenDone = removeWhenDone ? runDirectory : null;
        _onCancel = (_, e) =>
        {
            if (_cancel.IsCancellationRequested) return; // the second Ctrl-C ends the process
            e.Cancel = true;
            _cancel.Cancel();
        };
        System.Console.CancelKeyPress += _onCancel;
        var bar = _bar;
        Session = new TechniqueSession
        {
            Notes = note =>
            {
                bar?.Clear();
                cli.Note(note);
            },
            Progress = bar is null ? null : bar.Update,
            EpochEnd = epochLines && !quiet ? e =>
            {
                bar?.Clear();
                cli.Console.WriteLine(EpochLine(e));
            } : null,
            Cancel = _cancel.Token, RunDirectory = runDirectory, Resume = resume, Naming = cli.Naming, Verbosity = cli.Verbosity,
        };
        cli.OpenSession ??= this;
    }

    public TechniqueSession Session { get; }

    /// <summary>The line of a finished epoch, as <c>train</c> prints it.</summary>
    public static string EpochLine(TechniqueEpoch m) =>
        $"{(m.Label.Length > 0 ? m.Label + " " : "")}epoch {m.Epoch}/{m.Epochs}: loss {m.TrainLoss:F4}, " +
        (m.TrainAccuracy is { } train ? $"train {train:P2}, test {m.TestAccuracy:P2}, " : "no labels (distilled), ") +
        $"lr {m.LearningRate:G3}, {m.Seconds:F1} s ({m.SamplesPerSecond:N0} samples/s)";

    /// <summary>The command succeeded: a default run directory's checkpoints are removed, so the same command runs again as it did.</summary>
    public void Succeeded()
    {
        if (_removeWhenDone is { } directory) TrainingSession.Remove(directory);
    }

    public void Dispose()
    {
        System.Console.CancelKeyPress -= _onCancel;
        if (ReferenceEquals(_cli.OpenSession, this)) _cli.OpenSession = null;
        _bar?.Clear();
        _cancel.Dispose();
    }
}

/// <summary>
/// <c>--run-dir</c> and <c>--resume</c> of the commands that fine-tune (prune, quantize --mode qat, cluster,
/// factorize): checkpoints every epoch, by default in OUT's name + <c>.run</c>, removed after a successful run.
/// </summary>
internal sealed class RunDirCli
{
    public Option<string?> RunDir { get; } = new("--run-dir") { Description = "Run directory for the fine-tuning checkpoints, one per epoch (default: OUT's name + .run, removed after a successful run)" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue an interrupted run from the checkpoints in --run-dir (or OUT's name + .run); finished fine-tunings are not trained again" };

    public IEnumerable<Option> All => new Option[] { RunDir, Resume };

    /// <summary>
    /// The session of the command: with <paramref name="trains"/>, its run directory checked (a directory, not
    /// holding a run unless resuming, existing when resuming); without, --run-dir and --resume are refused.
    /// </summary>
    public CliSession Open(ParseResult p, CliContext cli, string outPath, bool trains)
    {
        var (given, resume) = (p.GetValue(RunDir), p.GetValue(Resume));
        if (!trains)
        {
            if (given is not null || resume)
                throw new OptionsException("--run-dir and --resume keep and continue the checkpoints of training, and this command trains nothing as given; drop them");
            return new CliSession(cli, null, false);
        }
        var directory = given ?? TrainingCli.DefaultRunDirectory(outPath);
        TrainingCli.CheckRunDirectory(directory, resume);
        if (resume && !Directory.Exists(directory)) throw new OptionsException($"no run to continue in {directory}; start the run without --resume");
        return new CliSession(cli, directory, resume, removeWhenDone: given is null);
    }
}

/// <summary>A one-line progress bar on an interactive stderr (nothing when stderr is redirected), redrawn ten times a second at most.</summary>
internal sealed class ProgressLine
{
    private readonly TextWriter _err;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private long _drawn = long.MinValue / 2;
    private int _width;

    private ProgressLine(TextWriter err) => _err = err;

    public static ProgressLine? ForStderr(CliContext cli) =>
        ReferenceEquals(cli.Err, System.Console.Error) && !System.Console.IsErrorRedirected ? new ProgressLine(cli.Err) : null;

    public void Update(TechniqueProgress p)
    {
        var now = _clock.ElapsedMilliseconds;
        if (now - _drawn < 100 && p.Batch != p.Batches) return;
        _drawn = now;
        const int cells = 30;
        var done = (int)((long)cells * p.Batch / p.Batches);
        var line = $"{(p.Label.Length > 0 ? p.Label + " " : "")}epoch {p.Epoch + 1}/{p.Epochs} [{new string('#', done)}{new string('.', cells - done)}] {p.Batch}/{p.Batches}  loss {p.Loss:F4}  {(p.Accuracy is { } a ? $"acc {a:P1}" : "no labels")}  {p.SamplesPerSecond:N0} samples/s";
        _width = Math.Max(_width, line.Length);
        _err.Write("\r" + line.PadRight(_width));
        _err.Flush();
    }

    public void Clear()
    {
        if (_width == 0) return;
        _err.Write("\r" + new string(' ', _width) + "\r");
        _err.Flush();
        _width = 0;
    }
}
