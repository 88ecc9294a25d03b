using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.Optim;
using Shrink.Zoo;

namespace Shrink.Cli;

/// <summary>
/// The training options that <c>shrink train</c> and <c>shrink distill</c> share (epochs, optimizer,
/// schedule, seed, run directory), and the loop around <see cref="Trainer.Fit"/> they share: a progress
/// line, one line per epoch, and Ctrl-C writing a checkpoint to resume from.
/// </summary>
internal sealed class TrainingCli
{
    public const int Interrupted = 130;

    public Option<string?> Data { get; } = Options.Data();
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Epochs", DefaultValueFactory = _ => 10 };
    public Option<int> Batch { get; } = new("--batch") { Description = "Mini-batch size", DefaultValueFactory = _ => 128 };
    public Option<string> Optimizer { get; } = new("--optimizer") { Description = "sgd, adam or adamw", DefaultValueFactory = _ => "sgd" };
    public Option<double?> Lr { get; } = new("--lr") { Description = "Learning rate (default 0.05 for sgd, 0.001 for adam/adamw)" };
    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
    public Option<bool> Nesterov { get; } = new("--nesterov") { Description = "Nesterov momentum (SGD)" };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "Weight decay (L2 for sgd/adam, decoupled for adamw)", DefaultValueFactory = _ => 0 };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "Learning-rate schedule: none, step or cosine", DefaultValueFactory = _ => "none" };
    public Option<int> StepEpochs { get; } = new("--step-epochs") { Description = "Step schedule: decay every N epochs", DefaultValueFactory = _ => 10 };
    public Option<double> Gamma { get; } = new("--gamma") { Description = "Step schedule: decay factor", DefaultValueFactory = _ => 0.1 };
    public Option<double> Warmup { get; } = new("--warmup") { Description = "Linear warm-up, in epochs", DefaultValueFactory = _ => 0 };
    public Option<double> Smoothing { get; } = new("--label-smoothing") { Description = "Label smoothing of the cross-entropy", DefaultValueFactory = _ => 0 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of initialisation (zoo models), shuffling and dropout", DefaultValueFactory = _ => 0 };
    public Option<int?> Limit { get; } = new("--limit") { Description = "Train on the first N training images only" };
    public Option<string?> RunDir { get; } = new("--run-dir") { Description = "Run directory for checkpoints and metrics (default: OUT's name + .run)" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue the run in --run-dir from its last checkpoint" };
    public Option<int> Threads { get; } = new("--threads") { Description = "libtorch intra-op threads (0: one per core)", DefaultValueFactory = _ => 0 };

    public IEnumerable<Option> All => new Option[]
    {
        Data, Epochs, Batch, Optimizer, Lr, Momentum, Nesterov, WeightDecay, Schedule, StepEpochs, Gamma, Warmup, Smoothing, Seed, Limit, RunDir, Resume, Threads,
    };

    /// <summary>Names the flags that set training options under other names, so that the library's errors print them.</summary>
    public Command Flags(CliContext cli, Command command) =>
        cli.Flags(command, ("BatchSize", "--batch"), ("LearningRate", "--lr"), ("WarmupEpochs", "--warmup"));

    /// <summary>The training options from the command line; checkpoints go to --run-dir or next to <paramref name="outPath"/>.</summary>
    public TrainOptions Build(ParseResult p, string outPath, double labelLossWeight = 1)
    {
        var opt = p.GetValue(Optimizer)!;
        if (p.GetValue(Schedule) is not ("none" or "step" or "cosine"))
            throw new OptionsException($"unknown --schedule '{p.GetValue(Schedule)}'; choose none, step or cosine");
        var options = new TrainOptions
        {
            Epochs = p.GetValue(Epochs),
            BatchSize = p.GetValue(Batch),
            Seed = p.GetValue(Seed),
            Optimizer = opt,
            Hyper = new OptimizerOptions
            {
                LearningRate = p.GetValue(Lr) ?? (opt == "sgd" ? 0.05 : 0.001),
                Momentum = p.GetValue(Momentum),
                Nesterov = p.GetValue(Nesterov),
                WeightDecay = p.GetValue(WeightDecay),
            },
            Schedule = new LearningRateSchedule
            {
                Kind = p.GetValue(Schedule)!, StepEpochs = p.GetValue(StepEpochs), Gamma = p.GetValue(Gamma), WarmupEpochs = p.GetValue(Warmup),
            },
            LabelSmoothing = p.GetValue(Smoothing),
            LabelLossWeight = labelLossWeight,
            RunDirectory = p.GetValue(RunDir) ?? Path.ChangeExtension(Path.GetFullPath(outPath), null) + ".run",
            Resume = p.GetValue(Resume),
        }.Validate();
        if (p.GetValue(Threads) < 0) throw new OptionsException($"--threads must be 0 or more, got {p.GetValue(Threads)}");
        var runKind = IO.FileIdentity.Of(options.RunDirectory!).Kind;
        if (runKind is not (IO.FileKind.Missing or IO.FileKind.Directory))
            throw new OptionsException($"--run-dir '{Text.Message.Name(options.RunDirectory!)}' is {IO.FileIdentity.Describe(runKind)}, not a directory; give a directory for the checkpoints (or leave --run-dir out)");
        if (!options.Resume && Checkpoint.Exists(options.RunDirectory!))
            throw new OptionsException($"{options.RunDirectory} already holds a run; continue it with --resume, or choose another --run-dir");
        return options;
    }

    /// <summary>The data sets, the training set cut to --limit.</summary>
    public (Dataset Train, Dataset Test) LoadData(ParseResult p)
    {
        var n = Options.CheckLimit(p.GetValue(Limit));
        var sets = FashionMnist.Load(p.GetValue(Data));
        return (n is { } k ? sets.Train.Take(k) : sets.Train, sets.Test);
    }

    /// <summary>A zoo model (initialised with <paramref name="seed"/>) or an ONNX file, as --<paramref name="option"/> names it.</summary>
    public static Model ModelFrom(string option, string source, int seed) =>
        ModelZoo.Names.Contains(source) ? ModelZoo.Create(source, seed)
        : File.Exists(source) ? Onnx.OnnxReader.Read(source)
        : throw new OptionsException($"{option} '{source}' is neither a zoo model ({string.Join(", ", ModelZoo.Names)}) nor an existing ONNX file");

    /// <summary>Starts libtorch with --threads.</summary>
    public void InitTorch(ParseResult p) => TorchRuntime.EnsureInitialized(p.GetValue(Threads) > 0 ? p.GetValue(Threads) : null);

    /// <summary>
    /// Stages the trained model at <paramref name="outPath"/> (and, with <paramref name="copyIntoRun"/>, a
    /// copy as RUN_DIR/model.onnx), measures the staged file with <paramref name="measure"/>, then moves
    /// both into place. When the environment refuses (disk full, read-only, a directory gone), the
    /// one-line <see cref="RunOutputException"/> says that the finished run's checkpoint is kept and that
    /// --resume writes the model without training again; nothing is left half-written.
    /// </summary>
    public static T SaveTrained<T>(Model model, string outPath, string runDirectory, bool copyIntoRun, IO.OutputGuard guard, Func<string, T> measure)
    {
        var advice = $"training is done and its checkpoint is kept in {runDirectory}: mend this and run the same command with --resume --run-dir {runDirectory} to write the model without training again";
        try
        {
            using var staged = Runtime.ModelSaver.Stage(model, outPath, guard: guard);
            var copyPath = Path.Combine(runDirectory, "model.onnx");
            using var copy = copyIntoRun && !SameFile(copyPath, outPath) ? Runtime.ModelSaver.Stage(model, copyPath, guard: guard) : null;
            var measured = measure(staged.TempPath);
            copy?.Commit();  // the run's copy first: if it fails, --out is not written yet and --resume's advice holds
            staged.Commit();
            return measured;
        }
        catch (Exception e) when (e is EnvironmentFailureException or OptionsException)
        {
            throw new RunOutputException($"{e.Message.TrimEnd('.')}; {advice}", e);
        }
    }

    /// <summary>True when both paths name one file, or would (the same full path, or the same existing file).</summary>
    public static bool SameFile(string a, string b) =>
        Path.GetFullPath(a) == Path.GetFullPath(b) || IO.FileIdentity.Of(a).SameFileAs(IO.FileIdentity.Of(b));

    /// <summary>
    /// Fits with a progress line and one line per epoch (unless <paramref name="quiet"/>); Ctrl-C writes a
    /// checkpoint and returns <see cref="Interrupted"/>, else null.
    /// </summary>
    public static int? Fit(CliContext cli, Trainer trainer, Dataset train, Dataset test, bool quiet, string label = "")
    {
        var bar = quiet ? null : ProgressLine.ForStderr(cli);
        if (bar is not null) trainer.Progress += bar.Update;
        trainer.Notice += note =>
        {
            bar?.Clear();
            cli.Note(note);
        };
        var epochs = trainer.Options.Epochs;
        trainer.EpochEnd += m =>
        {
            bar?.Clear();
            if (!quiet)
                cli.Console.WriteLine($"{label}epoch {m.Epoch}/{epochs}: loss {m.TrainLoss:F4}, train {m.TrainAccuracy:P2}, test {m.TestAccuracy:P2}, lr {m.LearningRate:G3}, {m.Seconds:F1} s ({m.SamplesPerSecond:N0} samples/s)");
        };
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        System.Console.CancelKeyPress += onCancel;
        try
        {
            trainer.Fit(train, test, cancel.Token);
            return null;
        }
        catch (OperationCanceledException)
        {
            bar?.Clear();
            cli.Note($"interrupted: checkpoint written to {Checkpoint.PathIn(trainer.Options.RunDirectory!)}; continue with the same command and --resume");
            return Interrupted;
        }
        finally
        {
            System.Console.CancelKeyPress -= onCancel;
        }
    }
}

/// <summary>
/// The console side of a technique that trains, as <see cref="TrainingCli.Fit"/> renders a trainer: the progress line on an
/// interactive stderr, one line per epoch on stdout (unless quiet; the label "teacher" prefixes its lines), notes on stderr,
/// and Ctrl-C cancelling <see cref="Session"/>'s token. Dispose to stop listening for Ctrl-C.
/// </summary>
internal sealed class TrainingConsole : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly ConsoleCancelEventHandler _onCancel;

    public TrainingConsole(CliContext cli, bool quiet, string? runDirectory, bool resume)
    {
        var bar = quiet ? null : ProgressLine.ForStderr(cli);
        _onCancel = (_, e) => { e.Cancel = true; _cancel.Cancel(); };
        System.Console.CancelKeyPress += _onCancel;
        Session = new Techniques.TechniqueSession
        {
            Notes = note => { bar?.Clear(); cli.Note(note); },
            Progress = bar is null ? null : p => bar.Update(new TrainProgress(p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss, p.Accuracy, p.SamplesPerSecond)),
            EpochEnd = quiet ? null : m =>
            {
                bar?.Clear();
                cli.Console.WriteLine($"{(m.Label == "teacher" ? "teacher " : "")}epoch {m.Epoch}/{m.Epochs}: loss {m.TrainLoss:F4}, train {m.TrainAccuracy:P2}, test {m.TestAccuracy:P2}, lr {m.LearningRate:G3}, {m.Seconds:F1} s ({m.SamplesPerSecond:N0} samples/s)");
            },
            Cancel = _cancel.Token,
            RunDirectory = runDirectory,
            Resume = resume,
        };
    }

    public Techniques.TechniqueSession Session { get; }

    /// <summary>The line and exit code of a run stopped by Ctrl-C: where its checkpoint is, or that the stopped part keeps none.</summary>
    public int Interrupted(CliContext cli, bool checkpointed)
    {
        cli.Note(checkpointed && Session.RunDirectory is { } dir
            ? $"interrupted: checkpoint written to {Checkpoint.PathIn(dir)}; continue with the same command and --resume"
            : "interrupted before any checkpoint (the teacher's training keeps none); run the same command again");
        return TrainingCli.Interrupted;
    }

    public void Dispose()
    {
        System.Console.CancelKeyPress -= _onCancel;
        _cancel.Dispose();
    }
}

/// <summary>
/// The distillation options that <c>shrink distill</c>, and the fine-tuning of <c>shrink prune</c> and
/// <c>shrink quantize --mode qat</c> (with <c>--teacher</c>), share.
/// </summary>
internal sealed class TeacherCli
{
    public Option<string?> Teacher { get; } = new("--teacher") { Description = "Fine-tune by distillation from this trained ONNX model (for example the uncompressed original): α·T²·KL on its soft outputs + (1 − α)·CE" };
    public Option<double> Temperature { get; } = new("--temperature") { Description = "Distillation: softmax temperature T of the soft targets", DefaultValueFactory = _ => 4 };
    public Option<double> Alpha { get; } = new("--alpha") { Description = "Distillation: weight α of the soft-target term α·T²·KL; the labels' cross-entropy gets 1 − α", DefaultValueFactory = _ => 0.9 };

    public IEnumerable<Option> All => new Option[] { Teacher, Temperature, Alpha };

    /// <summary>The teacher of the fine-tuning, or null without --teacher (then --temperature and --alpha must be absent).</summary>
    public TeacherChoice? Build(ParseResult p)
    {
        var options = new DistillationOptions { Temperature = p.GetValue(Temperature), Alpha = p.GetValue(Alpha) }.Validate();
        if (p.GetValue(Teacher) is not { } source)
        {
            if (p.GetResult(Temperature) is { Implicit: false } || p.GetResult(Alpha) is { Implicit: false })
                throw new OptionsException("--temperature and --alpha belong to --teacher (distillation while fine-tuning)");
            return null;
        }
        if (!File.Exists(source)) throw new OptionsException($"--teacher '{source}' does not exist; give a trained ONNX model");
        return new TeacherChoice(Onnx.OnnxReader.Read(source), options, source);
    }
}

/// <summary>The teacher given with --teacher: the model, the distillation settings and the path.</summary>
internal sealed record TeacherChoice(Model Model, DistillationOptions Options, string Source)
{
    /// <summary>The inputs of a fine-tuning technique: the data and, with a teacher, the model to distill from.</summary>
    public static Techniques.TechniqueInputs Inputs(TeacherChoice? teacher, DatasetPair? data) =>
        new() { Data = data, Teacher = teacher?.Model, TeacherSource = teacher?.Source ?? "the teacher" };
}

/// <summary>A one-line progress bar on an interactive stderr (nothing when stderr is redirected).</summary>
internal sealed class ProgressLine
{
    private readonly TextWriter _err;
    private int _width;

    private ProgressLine(TextWriter err) => _err = err;

    public static ProgressLine? ForStderr(CliContext cli) =>
        ReferenceEquals(cli.Err, System.Console.Error) && !System.Console.IsErrorRedirected ? new ProgressLine(cli.Err) : null;

    public void Update(TrainProgress p)
    {
        const int cells = 30;
        var done = (int)((long)cells * p.Batch / p.Batches);
        var line = $"epoch {p.Epoch + 1}/{p.Epochs} [{new string('#', done)}{new string('.', cells - done)}] {p.Batch}/{p.Batches}  loss {p.Loss:F4}  acc {p.Accuracy:P1}  {p.SamplesPerSecond:N0} samples/s";
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
