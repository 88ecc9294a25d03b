using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Training.Quantization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink quantize MODEL --mode static [--activations uint8|int8] [--per-channel] [--reduce-range auto|on|off] [--calibration
/// minmax|percentile|entropy] [--calib-samples N] [--calib-data X.npy] [--exclude NODES] [--data DIR]
/// --out OUT [--json]</c>: parses the flags into <see cref="QuantizeOptions"/> (or <see cref="QatOptions"/>), runs
/// <see cref="Quantizer"/> (or <see cref="QuantizationAwareTraining"/>), and compares size, accuracy and latency before and after.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext cli)
    {
        var q = new QuantizeCli();
        var model = Options.Model();
        var data = Options.Data();
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,256" };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var output = new Option<string>("--out") { Description = "Quantized ONNX model to write", Required = true };
        var json = Options.Json();
        var runDir = new RunDirCli();
        var command = new Command("quantize", "Quantize to int8 ONNX QDQ (calibrated static quantization) and compare size, accuracy and latency") { model };
        foreach (var o in q.All.Concat(new Option[] { data, benchBatch, threads, dims, output, json }).Concat(q.Teacher.All).Concat(runDir.All)) command.Options.Add(o);
        cli.Flags(command, (nameof(QuantizeOptions.CalibrationSamples), "--calib-samples"));
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(q.Teacher.Teacher), p.GetValue(q.CalibData), p.GetValue(q.Layers));
            var options = q.Build(p);
            var batches = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runner = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            var original = OnnxReader.Read(path);
            options = q.WithModel(p, options, original);
            var teacher = q.Teacher.Build(p);
            var qat = q.BuildQat(p, options, teacher);
            using var run = runDir.Open(p, cli, outPath, trains: qat is not null);
            if (Quantizer.Check(original, options) is { } reason) throw new OptionsException(reason);
            // Data: for accuracy (or fidelity) when given, for training, and for calibration unless --calib-data is; the default
            // (Fashion-MNIST) is refused, naming both flags, when it does not fit the model.
            var sets = p.GetValue(data) is not null || qat is not null || options.Calibrates && p.GetValue(q.CalibData) is null
                ? DataCli.Open(p.GetValue(data), original, DataCli.Name(path), "give --calib-data or --data") : null;
            var calibration = q.CalibrationFor(p, options, sets, original);

            double? executorAccuracy = null;
            QuantizeResult result;
            if (qat is not null)
            {
                var inputs = TeacherChoice.Inputs(teacher, sets!) with { Calibration = calibration, Runner = runner };
                var trained = QuantizationAwareTraining.Run(original, inputs, qat, cli.Session());
                (result, executorAccuracy) = (trained.Quantized, trained.ExecutorAccuracy);
            }
            else result = Quantizer.Run(original, options, calibration, cli.Session(), runner);
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runner), guard: guard);
            var notes = result.Notes.Concat(measured.Notes).ToList();
            var (before, after) = (measured.Before, measured.After);
            var report = new QuantizeReport(path, outPath, p.GetValue(q.Mode)!, p.GetValue(q.Weights)!, p.GetValue(q.Activations)!, options.PerChannel,
                Calibration(p, q, options, result.Calibration), result.Calibration.Samples, result.Stats, before, after, notes)
            {
                ExecutorAccuracy = executorAccuracy,
                BlockSize = options.BlockSize,
            };
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>How the activation ranges were chosen, in the report's words.</summary>
    private static string Calibration(ParseResult p, QuantizeCli q, QuantizeOptions options, CalibratedRanges ranges) =>
        options.Mode == QuantizeMode.Dynamic ? "none (dynamic)"
        : options.WeightOnly ? "none (weight-only)"
        : ranges.Observed ? $"{p.GetValue(q.Calibration)} then observed in training"
        : p.GetValue(q.Calibration)!;
}
