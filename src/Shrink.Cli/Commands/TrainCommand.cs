using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Training.Optim;
using Shrink.Zoo;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink train --model ZOO|FILE.onnx --epochs N --out MODEL.onnx</c>: trains a model on Fashion-MNIST
/// with the TorchSharp executor, checkpointing each epoch into a run directory, then writes the ONNX
/// model and measures its accuracy in ONNX Runtime beside the executor's.
/// </summary>
internal static class TrainCommand
{
    public const int Interrupted = 130;

    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = $"Zoo model ({string.Join(", ", ModelZoo.Names)}) or an ONNX file", Required = true };
        var data = Options.Data();
        var epochs = new Option<int>("--epochs") { Description = "Epochs", DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch") { Description = "Mini-batch size", DefaultValueFactory = _ => 128 };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd, adam or adamw", DefaultValueFactory = _ => "sgd" };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default 0.05 for sgd, 0.001 for adam/adamw)" };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
        var nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum (SGD)" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay (L2 for sgd/adam, decoupled for adamw)", DefaultValueFactory = _ => 0 };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: none, step or cosine", DefaultValueFactory = _ => "none" };
        var stepEpochs = new Option<int>("--step-epochs") { Description = "Step schedule: decay every N epochs", DefaultValueFactory = _ => 10 };
        var gamma = new Option<double>("--gamma") { Description = "Step schedule: decay factor", DefaultValueFactory = _ => 0.1 };
        var warmup = new Option<double>("--warmup") { Description = "Linear warm-up, in epochs", DefaultValueFactory = _ => 0 };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing of the cross-entropy", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation (zoo models), shuffling and dropout", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "Train on the first N training images only" };
        var output = new Option<string>("--out") { Description = "Trained ONNX model to write", Required = true };
        var runDir = new Option<string?>("--run-dir") { Description = "Run directory for checkpoints and metrics (default: OUT's name + .run)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --run-dir from its last checkpoint" };
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads (0: one per core)", DefaultValueFactory = _ => 0 };
        var json = Options.Json();
        var command = new Command("train", "Train a model on Fashion-MNIST with the TorchSharp executor and write it as ONNX")
        {
            model, data, epochs, batch, optimizer, lr, momentum, nesterov, weightDecay, schedule, stepEpochs, gamma, warmup,
            smoothing, seed, limit, output, runDir, resume, threads, json,
        };
        command.SetAction(cli.Guard(p =>
        {
            var outPath = p.GetValue(output)!;
            var source = p.GetValue(model)!;
            var isZoo = ModelZoo.Names.Contains(source);
            Options.CheckOutput(outPath, isZoo ? Array.Empty<string>() : new[] { source });
            var opt = p.GetValue(optimizer)!;
            var options = new TrainOptions
            {
                Epochs = p.GetValue(epochs),
                BatchSize = p.GetValue(batch),
                Seed = p.GetValue(seed),
                Optimizer = opt,
                Hyper = new OptimizerOptions
                {
                    LearningRate = p.GetValue(lr) ?? (opt == "sgd" ? 0.05 : 0.001),
                    Momentum = p.GetValue(momentum),
                    Nesterov = p.GetValue(nesterov),
                    WeightDecay = p.GetValue(weightDecay),
                },
                Schedule = new LearningRateSchedule
                {
                    Kind = p.GetValue(schedule)!, StepEpochs = p.GetValue(stepEpochs), Gamma = p.GetValue(gamma), WarmupEpochs = p.GetValue(warmup),
                },
                LabelSmoothing = p.GetValue(smoothing),
                RunDirectory = p.GetValue(runDir) ?? Path.ChangeExtension(Path.GetFullPath(outPath), null) + ".run",
                Resume = p.GetValue(resume),
            }.Validate();
            if (p.GetValue(threads) < 0) throw new OptionsException($"--threads must be 0 or more, got {p.GetValue(threads)}");
            var n = Options.CheckLimit(p.GetValue(limit));
            if (!options.Resume && File.Exists(Checkpoint.PathIn(options.RunDirectory!)))
                throw new OptionsException($"{options.RunDirectory} already holds a run; continue it with --resume, or choose another --run-dir");

            var sets = FashionMnist.Load(p.GetValue(data));
            var train = n is { } k ? sets.Train.Take(k) : sets.Train;
            var initial = isZoo ? ModelZoo.Create(source, options.Seed)
                : File.Exists(source) ? Onnx.OnnxReader.Read(source)
                : throw new OptionsException($"--model '{source}' is neither a zoo model ({string.Join(", ", ModelZoo.Names)}) nor an existing ONNX file");
            TorchRuntime.EnsureInitialized(p.GetValue(threads) > 0 ? p.GetValue(threads) : null);
            using var executor = GraphExecutor.Compile(initial);
            using var trainer = new Trainer(executor, options);
            var quiet = p.GetValue(json);
            var bar = quiet ? null : ProgressLine.ForStderr(cli);
            if (bar is not null) trainer.Progress += bar.Update;
            trainer.EpochEnd += m =>
            {
                bar?.Clear();
                if (!quiet)
                    cli.Console.WriteLine($"epoch {m.Epoch}/{options.Epochs}: loss {m.TrainLoss:F4}, train {m.TrainAccuracy:P2}, test {m.TestAccuracy:P2}, lr {m.LearningRate:G3}, {m.Seconds:F1} s ({m.SamplesPerSecond:N0} samples/s)");
            };

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            System.Console.CancelKeyPress += onCancel;
            try
            {
                if (!quiet)
                    cli.Console.WriteLine($"training {source} on {train.Count:N0} samples ({train.Source}), {options.Epochs} epochs, {opt} lr {options.Hyper.LearningRate:G3}, batch {options.BatchSize}, {TorchRuntime.Threads} threads; run directory {options.RunDirectory}");
                trainer.Fit(train, sets.Test, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                bar?.Clear();
                cli.Note($"interrupted: checkpoint written to {Checkpoint.PathIn(options.RunDirectory!)}; continue with the same command and --resume");
                return Interrupted;
            }
            finally
            {
                System.Console.CancelKeyPress -= onCancel;
            }

            var executorEval = trainer.Evaluate(sets.Test);
            var trained = executor.Export();
            trained.SetMetadata("shrink.trained", $"{options.Epochs} epochs {opt} lr {options.Hyper.LearningRate:G} seed {options.Seed}");
            ModelSaver.Save(trained, outPath);
            File.Copy(outPath, Path.Combine(options.RunDirectory!, "model.onnx"), overwrite: true);
            using var runner = OnnxRunner.Load(outPath);
            var ort = runner.Evaluate(sets.Test, 256);
            var report = new TrainReport(source, outPath, options.RunDirectory!, train.Count, sets.Test.Count, options.Epochs,
                trainer.History.Select(h => h.Seconds).ToArray(), executorEval.Accuracy, ort.Accuracy, Stats.ModelStats.SizeOnDisk(outPath));
            if (quiet) cli.WriteJson(report);
            else
            {
                cli.Console.WriteLine($"wrote {outPath} ({Format.Bytes(report.Bytes)})");
                cli.Console.WriteLine($"test accuracy: executor {executorEval.Accuracy:P2}, ONNX Runtime {ort.Accuracy:P2} on {sets.Test.Count:N0} images ({sets.Test.Source})");
            }
            if (Math.Abs(executorEval.Accuracy - ort.Accuracy) * sets.Test.Count > 2)
                cli.Note($"warning: ONNX Runtime's accuracy differs from the executor's by {Math.Abs(executorEval.Accuracy - ort.Accuracy):P2}");
            return ShrinkApp.Ok;
        }));
        return command;
    }
}

internal sealed record TrainReport(string Model, string Out, string RunDirectory, int TrainSamples, int TestSamples, int Epochs,
    double[] EpochSeconds, double ExecutorAccuracy, double OnnxRuntimeAccuracy, long Bytes);

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
