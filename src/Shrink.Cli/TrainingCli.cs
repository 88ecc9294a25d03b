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
/// schedule, seed, run directory), and the session around <see cref="Trainer.Fit"/> they share: a progress
/// line, one line per epoch, and Ctrl-C writing a checkpoint to resume from.
/// </summary>
internal sealed class TrainingCli
{
    public const int Interrupted = ShrinkApp.Interrupted;

    public Option<int> Epochs { get; } = new("--epochs") { Description = "Epochs", DefaultValueFactory = _ => 10 };
    /// <summary>--batch, --optimizer, --lr, --momentum, --nesterov, --weight-decay, --schedule, --step-epochs, --gamma, --warmup, --label-smoothing.</summary>
    public TrainingRecipeCli Recipe { get; } = new("sgd");
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of initialisation (zoo models), shuffling and dropout", DefaultValueFactory = _ => 0 };
    public Option<int?> Limit { get; } = new("--limit") { Description = "Train on the first N training samples only" };
    public Option<string?> RunDir { get; } = new("--run-dir") { Description = "Run directory for checkpoints and metrics (default: OUT's name + .run)" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue the run in --run-dir from its last checkpoint" };
    public Option<int> Threads { get; } = new("--threads") { Description = "libtorch intra-op threads (0: one per core)", DefaultValueFactory = _ => 0 };

    /// <summary>--data and the data flags (--seed seeds the split and augmentation too).</summary>
    public DataCli DataFlags { get; }

    public Option<string?> Data => DataFlags.Data;

    public TrainingCli() => DataFlags = new DataCli(seed: Seed, trains: true);

    public IEnumerable<Option> All => [Data, Epochs, .. Recipe.All, Seed, Limit, RunDir, Resume, Threads, .. DataFlags.Flags];

    /// <summary>Names the flags that set training options under other names, so that the library's errors print them.</summary>
    public Command Flags(CliContext cli, Command command) => cli.Flags(command, TrainingRecipeCli.Aliases);

    /// <summary>The training options from the command line; checkpoints go to --run-dir or next to <paramref name="outPath"/>.</summary>
    public TrainOptions Build(ParseResult p, string outPath, double labelLossWeight = 1)
    {
        var options = Recipe.Apply(p, new TrainOptions
        {
            Epochs = p.GetValue(Epochs),
            Seed = p.GetValue(Seed),
            LabelLossWeight = labelLossWeight,
            RunDirectory = p.GetValue(RunDir) ?? DefaultRunDirectory(outPath),
            Resume = p.GetValue(Resume),
        }).Validate();
        if (p.GetValue(Threads) < 0) throw new OptionsException($"--threads must be 0 or more, got {p.GetValue(Threads)}");
        CheckRunDirectory(options.RunDirectory!, options.Resume);
        return options;
    }

    /// <summary>The run directory of a command writing <paramref name="outPath"/> when --run-dir is not given: OUT's name + .run.</summary>
    public static string DefaultRunDirectory(string outPath) => Path.ChangeExtension(Path.GetFullPath(outPath), null) + ".run";

    /// <summary>Refuses a run directory that is not a directory, or that holds a run (its own or a fine-tuning's) when not resuming.</summary>
    public static void CheckRunDirectory(string directory, bool resume)
    {
        var runKind = IO.FileIdentity.Of(directory).Kind;
        if (runKind is not (IO.FileKind.Missing or IO.FileKind.Directory))
            throw new OptionsException($"--run-dir '{Text.Message.Name(directory)}' is {IO.FileIdentity.Describe(runKind)}, not a directory; give a directory for the checkpoints (or leave --run-dir out)");
        if (!resume && TrainingSession.HoldsRun(directory))
            throw new OptionsException($"{directory} already holds a run; continue it with --resume, or choose another --run-dir");
    }

    /// <summary>The data --data names, opened for <paramref name="model"/> and checked against it; the training split cut to --limit.</summary>
    public DataSplits LoadData(ParseResult p, Model model, string modelName)
    {
        var n = Options.CheckLimit(p.GetValue(Limit));
        var sets = DataFlags.Open(p, model, modelName);
        return n is { } k ? sets with { Train = sets.Train.Take(k) } : sets;
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
        catch (ShrinkUserException e) when (e is EnvironmentFailureException or OptionsException)
        {
            throw new RunOutputException(Text.OptionText.Of($"{e.Wording.Then(m => m.TrimEnd('.'))}; {advice}"), e);
        }
    }

    /// <summary>True when both paths name one file, or would (the same full path, or the same existing file).</summary>
    public static bool SameFile(string a, string b) =>
        Path.GetFullPath(a) == Path.GetFullPath(b) || IO.FileIdentity.Of(a).SameFileAs(IO.FileIdentity.Of(b));

    /// <summary>
    /// Fits in a session of the command (<see cref="TrainingSession.Fit"/>): a progress bar and one line per epoch
    /// unless <paramref name="quiet"/>; Ctrl-C writes a checkpoint and the command exits with <see cref="Interrupted"/>
    /// (<see cref="TrainingInterruptedException"/>, which <see cref="CliContext.Guard"/> reports).
    /// </summary>
    public static void Fit(CliContext cli, Trainer trainer, IDataSource train, IDataSource test, bool quiet, string label = "")
    {
        using var session = new CliSession(cli, trainer.Options.RunDirectory, trainer.Options.Resume, quiet, epochLines: true);
        TrainingSession.Fit(trainer, train, test, session.Session, label);
    }
}

/// <summary>
/// The flags of a training recipe (mini-batch, optimizer, learning rate and its schedule, regularisation), which <c>shrink train</c>,
/// <c>shrink distill</c> and <c>shrink search</c> (each candidate's training and the final one) share; <see cref="Apply"/> sets
/// them on the command's <see cref="TrainOptions"/>. The default optimizer is the command's (sgd to train, the library's adam to search).
/// </summary>
internal sealed class TrainingRecipeCli(string defaultOptimizer)
{
    public Option<int> Batch { get; } = new("--batch") { Description = "Mini-batch size", DefaultValueFactory = _ => 128 };
    public Option<string> Optimizer { get; } = new("--optimizer") { Description = "sgd, adam or adamw", DefaultValueFactory = _ => defaultOptimizer };
    public Option<double?> Lr { get; } = new("--lr") { Description = "Learning rate (default 0.05 for sgd, 0.001 for adam/adamw)" };
    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
    public Option<bool> Nesterov { get; } = new("--nesterov") { Description = "Nesterov momentum (SGD)" };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "Weight decay (L2 for sgd/adam, decoupled for adamw)", DefaultValueFactory = _ => 0 };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "Learning-rate schedule over each training's epochs: none, step or cosine", DefaultValueFactory = _ => "none" };
    public Option<int> StepEpochs { get; } = new("--step-epochs") { Description = "Step schedule: decay every N epochs", DefaultValueFactory = _ => 10 };
    public Option<double> Gamma { get; } = new("--gamma") { Description = "Step schedule: decay factor", DefaultValueFactory = _ => 0.1 };
    public Option<double> Warmup { get; } = new("--warmup") { Description = "Linear warm-up, in epochs", DefaultValueFactory = _ => 0 };
    public Option<double> Smoothing { get; } = new("--label-smoothing") { Description = "Label smoothing of the cross-entropy", DefaultValueFactory = _ => 0 };

    public IEnumerable<Option> All => [Batch, Optimizer, Lr, Momentum, Nesterov, WeightDecay, Schedule, StepEpochs, Gamma, Warmup, Smoothing];

    /// <summary>The training options these flags name under other names, so that the library's errors print the flags.</summary>
    public static readonly (string Property, string Flag)[] Aliases = [("BatchSize", "--batch"), ("LearningRate", "--lr"), ("WarmupEpochs", "--warmup")];

    /// <summary><paramref name="options"/> with the recipe of the flags (the caller validates it).</summary>
    public TrainOptions Apply(ParseResult p, TrainOptions options)
    {
        var opt = p.GetValue(Optimizer)!;
        if (p.GetValue(Schedule) is not ("none" or "step" or "cosine"))
            throw new OptionsException($"unknown --schedule '{p.GetValue(Schedule)}'; choose none, step or cosine");
        return options with
        {
            BatchSize = p.GetValue(Batch),
            Optimizer = opt,
            Hyper = options.Hyper with
            {
                LearningRate = p.GetValue(Lr) ?? (opt == "sgd" ? 0.05 : 0.001),
                Momentum = p.GetValue(Momentum),
                Nesterov = p.GetValue(Nesterov),
                WeightDecay = p.GetValue(WeightDecay),
            },
            Schedule = options.Schedule with
            {
                Kind = p.GetValue(Schedule)!, StepEpochs = p.GetValue(StepEpochs), Gamma = p.GetValue(Gamma), WarmupEpochs = p.GetValue(Warmup),
            },
            LabelSmoothing = p.GetValue(Smoothing),
        };
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
    public static Techniques.TechniqueInputs Inputs(TeacherChoice? teacher, DataSplits? data) =>
        new() { Data = data, Teacher = teacher?.Model, TeacherSource = teacher?.Source ?? "the teacher" };
}
