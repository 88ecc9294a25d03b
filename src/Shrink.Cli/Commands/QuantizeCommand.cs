using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Training.Quantization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink quantize MODEL --mode static [--activations uint8|int8] [--per-channel] [--op-types T,…] [--reduce-range auto|on|off] [--calibration
/// minmax|percentile|entropy] [--calib-samples N] [--calib-data X.npy] [--exclude NODES] [--data DIR]
/// --out OUT [--json] [--save-recipe FILE | --dry-run]</c>: parses the flags into <see cref="QuantizeOptions"/> (or <see cref="QatOptions"/>),
/// runs <see cref="Quantizer"/> (or <see cref="QuantizationAwareTraining"/>), and compares size, accuracy and latency before and after;
/// or writes the command as a one-stage recipe of <c>quantize</c> (<c>quantize-qat</c>), or prints what would run.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext cli)
    {
        var q = new QuantizeCli();
        var command = new Command("quantize", "Quantize to int8 ONNX QDQ (calibrated static quantization) and compare size, accuracy and latency") { q.Model };
        foreach (var o in q.All) command.Options.Add(o);
        cli.Flags(command, (nameof(QuantizeOptions.CalibrationSamples), "--calib-samples"), (nameof(QuantizeOptions.MatMulConstBOnly), "--matmul-const-b-only"));
        command.SetAction(cli.Guard(p => Run(cli, q, p)));
        return command;
    }

    private static int Run(CliContext cli, QuantizeCli q, ParseResult p)
    {
        var (path, outPath) = (p.GetValue(q.Model)!, p.GetValue(q.Output)!);
        var guard = Options.CheckOutput(outPath, path, p.GetValue(q.Teacher.Teacher), p.GetValue(q.CalibData), p.GetValue(q.Layers));
        var options = q.Build(p);
        cli.Verbosity = q.Notes(p);
        var batches = p.GetValue(q.BenchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(q.BenchBatch)!);
        var runner = q.Runner(p);
        var original = OnnxReader.Read(path);
        options = q.WithModel(p, options, original);
        var teacher = q.Teacher.Build(p);
        var qat = q.BuildQat(p, options, teacher);
        if (Quantizer.Check(original, options) is { } reason) throw new OptionsException(reason);
        var loadsData = q.LoadsData(p, options, qat is not null);
        // The default data (Fashion-MNIST) is refused, naming both flags, when it does not fit the model.
        var sets = loadsData ? q.OpenData(p, original, DataCli.Name(path)) : null;
        var calibration = q.CalibrationFor(p, options, sets, original);
        var fidelity = q.Gate.Check(p, Text.OptionText.Plain("keep the layers that break in float (--exclude; shrink compare finds them), or try --per-channel or another --calibration"), recipe: null, calibration?.Source);
        var runtime = new RecipeRuntime { Threads = runner.Threads, Dims = runner.DimValues };
        if (q.Recipe.Handle(cli, p, qat is null ? "quantize" : "quantize-qat", (object?)qat ?? options, RecipeModel.File(path), q.RecipeDataOf(p, options, loadsData, teacher), runtime, guard) is { } code)
            return code;
        using var run = q.RunDir.Open(p, cli, outPath, trains: qat is not null);

        double? executorAccuracy = null;
        QuantizeResult result;
        if (qat is not null)
        {
            var inputs = TeacherChoice.Inputs(teacher, sets!) with { Calibration = calibration, Runner = runner };
            var trained = QuantizationAwareTraining.Run(original, inputs, qat, cli.Session());
            (result, executorAccuracy) = (trained.Quantized, trained.ExecutorAccuracy);
        }
        else result = Quantizer.Run(original, options, calibration, cli.Session(), runner);
        var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runner, naming: cli.Naming, fidelity: fidelity),
            OnnxWriteOptions.ForResultOf(original), guard: guard);
        var report = new QuantizeReport(path, outPath, p.GetValue(q.Mode)!, p.GetValue(q.Weights)!, p.GetValue(q.Activations)!, options.PerChannel,
            Calibration(p, q, options, result.Calibration), result.Calibration.Samples, result.Stats, measured.Before, measured.After, result.Notes.Concat(measured.Notes).ToList())
        {
            ExecutorAccuracy = executorAccuracy,
            BlockSize = options.BlockSize,
            Fallback = result.Fallback,
        };
        if (p.GetValue(q.Json)) cli.WriteJson(report);
        else report.Render(cli.Console);
        FidelityCli.Warn(cli, path, outPath, measured.After);
        run.Succeeded();
        return ShrinkApp.Ok;
    }

    /// <summary>How the activation ranges were chosen, in the report's words.</summary>
    private static string Calibration(ParseResult p, QuantizeCli q, QuantizeOptions options, CalibratedRanges ranges) =>
        options.Mode == QuantizeMode.Dynamic ? "none (dynamic)"
        : options.WeightOnly ? "none (weight-only)"
        : ranges.Observed ? $"{p.GetValue(q.Calibration)} then observed in training"
        : p.GetValue(q.Calibration)!;
}
