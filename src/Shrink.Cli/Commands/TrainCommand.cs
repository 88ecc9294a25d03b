using System.CommandLine;
using Spectre.Console;
using Shrink.Runtime;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Zoo;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink train --model ZOO|FILE.onnx --epochs N --out MODEL.onnx</c>: trains a model on Fashion-MNIST
/// with the TorchSharp executor, checkpointing each epoch into a run directory, then writes the ONNX
/// model and measures its accuracy in ONNX Runtime beside the executor's.
/// </summary>
internal static class TrainCommand
{
    public const int Interrupted = TrainingCli.Interrupted;

    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = $"Zoo model ({string.Join(", ", ModelZoo.Names)}) or an ONNX file", Required = true };
        var training = new TrainingCli();
        var output = new Option<string>("--out") { Description = "Trained ONNX model to write", Required = true };
        var json = Options.Json();
        var command = new Command("train", "Train a model on Fashion-MNIST with the TorchSharp executor and write it as ONNX") { model };
        foreach (var o in training.All) command.Options.Add(o);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(cli.Guard(p =>
        {
            var outPath = p.GetValue(output)!;
            var source = p.GetValue(model)!;
            var isZoo = ModelZoo.Names.Contains(source);
            var guard = Options.CheckOutput(outPath, isZoo ? null : source);
            var options = training.Build(p, outPath);
            var runCopyPath = Path.Combine(options.RunDirectory!, "model.onnx");
            if (Directory.Exists(options.RunDirectory) && !TrainingCli.SameFile(runCopyPath, outPath)) guard.Check(runCopyPath, "--run-dir's model.onnx");
            var initial = TrainingCli.ModelFrom("--model", source, options.Seed);
            var (train, test) = training.LoadData(p, initial, isZoo ? $"zoo model {source}" : DataCli.Name(source));
            training.InitTorch(p);
            using var executor = GraphExecutor.Compile(initial);
            using var trainer = new Trainer(executor, options);
            var quiet = p.GetValue(json);
            if (!quiet)
                cli.Console.WriteLine($"training {source} on {train.Count:N0} samples ({train.Name}), {options.Epochs} epochs, {options.Optimizer} lr {options.Hyper.LearningRate:G3}, batch {options.BatchSize}, {TorchRuntime.Threads} threads; run directory {options.RunDirectory}");
            TrainingCli.Fit(cli, trainer, train, test, quiet);

            var executorEval = trainer.Evaluate(test);
            var trained = executor.Export();
            trained.SetMetadata("shrink.trained", $"{options.Epochs} epochs {options.Optimizer} lr {options.Hyper.LearningRate:G} seed {options.Seed}");
            var (ortAccuracy, bytes) = TrainingCli.SaveTrained(trained, outPath, options.RunDirectory!, copyIntoRun: true, guard, file =>
            {
                using var runner = OnnxRunner.Load(file);
                return (runner.Evaluate(test, 256).Accuracy, Stats.ModelStats.SizeOnDisk(file));
            });
            var report = new TrainReport(source, outPath, options.RunDirectory!, train.Count, test.Count, options.Epochs,
                trainer.History.Select(h => h.Seconds).ToArray(), executorEval.Accuracy, ortAccuracy, bytes) { Data = test.Name };
            if (quiet) cli.WriteJson(report);
            else
            {
                cli.Console.WriteLine($"wrote {outPath} ({Format.Bytes(report.Bytes)})");
                cli.Console.WriteLine($"test accuracy: executor {executorEval.Accuracy:P2}, ONNX Runtime {ortAccuracy:P2} on {test.Count:N0} samples ({test.Name})");
            }
            if (Math.Abs(executorEval.Accuracy - ortAccuracy) * test.Count > 2)
                cli.Note($"warning: ONNX Runtime's accuracy differs from the executor's by {Math.Abs(executorEval.Accuracy - ortAccuracy):P2}");
            return ShrinkApp.Ok;
        }));
        return training.Flags(cli, command);
    }
}

internal sealed record TrainReport(string Model, string Out, string RunDirectory, int TrainSamples, int TestSamples, int Epochs,
    double[] EpochSeconds, double ExecutorAccuracy, double OnnxRuntimeAccuracy, long Bytes)
{
    /// <summary>The name of the test data.</summary>
    public string Data { get; init; } = "";
}
