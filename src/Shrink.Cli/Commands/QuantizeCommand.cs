using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Training.FineTuning;
using Shrink.Training;
using Shrink.Training.Quantization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink quantize MODEL --mode static [--activations uint8|int8] [--per-channel] [--reduce-range auto|on|off] [--calibration
/// minmax|percentile|entropy] [--calib-samples N] [--calib-data X.npy] [--exclude NODES] [--data DIR]
/// --out OUT [--json]</c>: folds constants and BatchNorm, calibrates activation ranges in ONNX Runtime,
/// writes a QDQ model, and compares size, accuracy and latency before and after.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var mode = new Option<string>("--mode") { Description = "static: int8 weights and activations, activation ranges calibrated on samples; dynamic: int8 MatMul/Gemm weights, activations quantized at run time (no calibration)", DefaultValueFactory = _ => "static" };
        mode.AcceptOnlyFromAmong("static", "dynamic", "qat");
        var epochs = new Option<int>("--epochs") { Description = "qat: training epochs with quantized weights and fake-quantized activations (straight-through estimator)", DefaultValueFactory = _ => 0 };
        var lr = new Option<double>("--lr") { Description = "qat: learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
        var batch = new Option<int>("--batch") { Description = "qat: batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "qat: seed", DefaultValueFactory = _ => 0 };
        var weights = new Option<string>("--weights") { Description = "Weight precision: int8, int4 (levels ±7), ternary (TWN: −α, 0, +α), binary (±α)", DefaultValueFactory = _ => "int8" };
        weights.AcceptOnlyFromAmong("int8", "int4", "ternary", "binary");
        var storage = new Option<string>("--storage") { Description = "Container of int4, ternary and binary weights: int4 (ONNX INT4 in DequantizeLinear, opset 21, packed two per byte; dequantized at run time) or int8 (levels in int8, run by ONNX Runtime's int8 kernels; the size statistics count the packed bits)", DefaultValueFactory = _ => "int4" };
        storage.AcceptOnlyFromAmong("int4", "int8");
        var rangesOption = new Option<string>("--activation-ranges") { Description = "qat: observed (moving-average min/max of the training activations, as PyTorch's QAT observers) or calibrated (fixed at the calibration ranges)", DefaultValueFactory = _ => "observed" };
        rangesOption.AcceptOnlyFromAmong("observed", "calibrated");
        var blockSize = new Option<int>("--block-size") { Description = "int4 storage: one scale per this many weights along the reduction axis (block-wise, DequantizeLinear block_size) instead of per channel; 0 for none", DefaultValueFactory = _ => 0 };
        var reduceRange = new Option<string>("--reduce-range") { Description = "int8 weights in 7 bits (levels ±64), so ONNX Runtime's u8×s8 kernels on x86 without VNNI (AVX2, AVX-512 without VNNI), whose int16 pair sums saturate, stay exact: auto (on when this CPU is such a machine and activations are quantized), on (deploying to such machines), off (deploying to VNNI or ARM machines)", DefaultValueFactory = _ => "auto" };
        reduceRange.AcceptOnlyFromAmong("auto", "on", "off");
        var layers = new Option<string?>("--layers") { Description = "Mixed precision: JSON of layer name → int8|int4|ternary|binary|float" };
        var activations = new Option<string>("--activations") { Description = "uint8 (asymmetric; what ONNX Runtime's x86 kernels prefer), int8 (symmetric) or float (weight-only quantization, no calibration)", DefaultValueFactory = _ => "uint8" };
        activations.AcceptOnlyFromAmong("uint8", "int8", "float");
        var perChannel = new Option<bool>("--per-channel") { Description = "One weight scale per output channel (else one per tensor)" };
        var calibration = new Option<string>("--calibration") { Description = "minmax, percentile (of |x|, --percentile) or entropy (KL divergence)", DefaultValueFactory = _ => "minmax" };
        calibration.AcceptOnlyFromAmong("minmax", "percentile", "entropy");
        var percentile = new Option<double>("--percentile") { Description = "Percentile calibration: the percentile of |x| kept", DefaultValueFactory = _ => 99.99 };
        var samples = new Option<int>("--calib-samples") { Description = "Calibration samples (the first N training images, or of --calib-data)", DefaultValueFactory = _ => 512 };
        var calibData = new Option<string?>("--calib-data") { Description = "A .npy array of calibration inputs, shape [N, …] (any model input shape)" };
        var exclude = new Option<string?>("--exclude") { Description = "Comma-separated node names kept in float" };
        var data = Options.Data();
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,256" };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var output = new Option<string>("--out") { Description = "Quantized ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var command = new Command("quantize", "Quantize to int8 ONNX QDQ (calibrated static quantization) and compare size, accuracy and latency")
        {
            model, mode, epochs, lr, batch, seed, rangesOption, weights, storage, blockSize, reduceRange, activations, perChannel, calibration, percentile, samples, calibData, exclude, layers, data, benchBatch, threads, dims, output, json,
        };
        foreach (var o in teacher.All.Concat(runDir.All)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher), p.GetValue(calibData), p.GetValue(layers));
            var options = new QuantizationOptions
            {
                PerChannel = p.GetValue(perChannel),
                Activations = p.GetValue(activations) switch { "int8" => DataType.Int8, "float" => DataType.Float, _ => DataType.UInt8 },
                Calibration = p.GetValue(calibration) switch { "percentile" => CalibrationMethod.Percentile, "entropy" => CalibrationMethod.Entropy, _ => CalibrationMethod.MinMax },
                Percentile = p.GetValue(percentile),
                Exclude = (p.GetValue(exclude) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(),
                WeightBits = LayerBitsConfig.Parse(p.GetValue(weights)!)!.Value,
                LowBitStorage = p.GetValue(storage) == "int8" ? DataType.Int8 : DataType.Int4,
                BlockSize = p.GetValue(blockSize),
                ReduceRange = p.GetValue(reduceRange) switch { "on" => ReduceRange.On, "off" => ReduceRange.Off, _ => ReduceRange.Auto },
            }.Validate();
            var batches = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runnerOptions = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };

            var original = OnnxReader.Read(path);
            if (p.GetValue(layers) is { } config) options = (options with { LayerBits = LayerBitsConfig.Read(config, original) }).Validate();
            if (p.GetResult(reduceRange) is { Implicit: false } && options.WeightBits != 8 && options.LayerBits?.Values.Contains(8) != true)
                throw new OptionsException("--reduce-range applies to int8 weights; drop it or give --weights int8");
            var missing = options.Exclude.Where(n => original.Graph.FindNode(n) is null).ToList();
            if (missing.Count > 0) throw new OptionsException($"--exclude names no node called {Text.Message.List(missing.Select(n => $"'{Text.Message.Name(n)}'"))}; see the node names with shrink inspect");
            var dynamic = p.GetValue(mode) == "dynamic";
            var qat = p.GetValue(mode) == "qat";
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(epochs), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            if (!qat && tuning.Distillation is not null) throw new OptionsException("--teacher distills during quantization-aware training; use it with --mode qat");
            if (qat && tuning.Epochs < 1) throw new OptionsException("--mode qat trains with quantized weights; give --epochs (at least 1) and --data");
            if (!qat && tuning.Epochs != 0) throw new OptionsException("--epochs belongs to --mode qat");
            var observe = qat && p.GetValue(rangesOption) == "observed";
            if (!qat && p.GetResult(rangesOption) is { Implicit: false }) throw new OptionsException("--activation-ranges belongs to --mode qat");
            if (qat && options.Activations == DataType.Float && p.GetResult(rangesOption) is { Implicit: false }) throw new OptionsException("--activations float has no activation ranges; drop --activation-ranges");
            if (qat && !(tuning.LearningRate > 0)) throw new OptionsException($"--lr must be positive, got {tuning.LearningRate}");
            using var run = runDir.Open(p, cli, outPath, trains: qat);
            if (dynamic && options.Activations != DataType.UInt8) throw new OptionsException("--mode dynamic quantizes activations to uint8 at run time (DynamicQuantizeLinear); drop --activations int8");
            if (dynamic && p.GetValue(calibData) is not null) throw new OptionsException("--mode dynamic needs no calibration; drop --calib-data");
            var weightOnly = !dynamic && options.Activations == DataType.Float;
            if (weightOnly && p.GetValue(calibData) is not null) throw new OptionsException("--activations float quantizes the weights only and needs no calibration; drop --calib-data");
            var check = dynamic ? new QuantizeDynamicPass(options).CheckModel(original) : new QuantizeStaticPass(options).CheckModel(original);
            if (check is { } reason) throw new OptionsException(reason);
            // Layers are looked for after folding: weights behind Constant nodes or exporter Transposes become initializers there.
            var context = new PassContext();
            var folded = new PassPipeline(new FoldConstantsPass(), new FoldBatchNormPass()).Run(original, context).Model;
            var none = dynamic ? new QuantizeDynamicPass(options).CheckPreconditions(folded) : new QuantizeStaticPass(options).CheckPreconditions(folded);
            if (none is { } nothing) throw new OptionsException(nothing);
            // Data: for accuracy when given, and for calibration unless --calib-data is.
            var calibrate = !dynamic && !weightOnly;
            var sets = p.GetValue(data) is not null || qat || calibrate && p.GetValue(calibData) is null ? FashionMnist.Load(p.GetValue(data)) : null;
            if (sets is not null) CalibrationSet.FromDataset(sets.Test, 1).CheckFits(original);
            var calibrationSet = !calibrate ? null : p.GetValue(calibData) is { } npy
                ? CalibrationSet.FromNpy(NpyFile.Read(npy), p.GetValue(samples))
                : CalibrationSet.FromDataset(sets!.Train, p.GetValue(samples));
            calibrationSet?.CheckFits(original);

            double? executorAccuracy = null;
            PassResult result;
            if (dynamic) result = new PassPipeline(new QuantizeDynamicPass(options)).Run(folded, context);
            else
            {
                var plan = new QuantizeStaticPass(options).Plan(folded);
                IReadOnlyDictionary<string, (double Min, double Max)> ranges = new Dictionary<string, (double, double)>();
                if (calibrationSet is not null)
                {
                    cli.Note($"calibrating {plan.CalibrationValues.Count} tensors on {calibrationSet.Count} samples ({p.GetValue(calibration)})");
                    ranges = Calibrator.Collect(folded, plan.CalibrationValues, calibrationSet, options.Calibration, options.Percentile, runnerOptions);
                }
                if (qat)
                {
                    // Train with the activations fake-quantized at their calibrated ranges (Q/DQ in the executor, straight-through
                    // gradients) and the weights kept on their grid; then export with the same ranges.
                    var fakeQuant = new QuantizeStaticPass(options, ranges) { ActivationsOnly = true }.Run(folded, new PassContext());
                    var training = fakeQuant.Model;
                    var quantizers = fakeQuant.Artifact<ActivationQuantizers>()!.Scales;
                    var layers = plan.Layers.ToDictionary(l => l.Inputs[1]!.Name,
                        l => (Axis: QuantizeStaticPass.OutputChannelAxis(l), Bits: options.BitsOf(l)));
                    ActivationRangeHook? observer = null;
                    var tuned = FineTuner.Run(training, tuning, TeacherChoice.Inputs(teacherChoice, sets!), cli.Session(), "qat", ex =>
                    {
                        var hooks = new List<ITrainingHook> { new WeightQatHook(ex, layers, options.PerChannel, options.ResolveReduceRange(options.Activations != DataType.Float).On) };
                        if (observe) hooks.Add(observer = new ActivationRangeHook(ex, quantizers.Select(a => (a.ScaleName, a.Lower, a.Upper))));
                        return hooks;
                    });
                    var trained = tuned.Model;
                    executorAccuracy = tuned.TestAccuracy;
                    // The export uses the ranges the observers ended with, so ONNX Runtime runs what the executor evaluated.
                    if (observer is not null)
                    {
                        var observed = ranges.ToDictionary(kv => kv.Key, kv => kv.Value);
                        foreach (var a in quantizers) observed[a.RangeKey] = observer.Ranges[a.ScaleName];
                        ranges = observed;
                    }
                    foreach (var v in folded.Graph.Initializers)
                        if (trained.Graph.FindInitializer(v.Name)?.Const is { } t && t.Dims.SequenceEqual(v.Const!.Dims) && t.DataType == v.Const.DataType)
                            v.Const = t.Clone(v.Name);
                }
                result = new PassPipeline(new QuantizeStaticPass(options, ranges)).Run(folded, context);
            }
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runnerOptions), guard: guard);
            context.Notes.AddRange(measured.Notes);
            var (before, after) = (measured.Before, measured.After);
            var report = new QuantizeReport(path, outPath, p.GetValue(mode)!, p.GetValue(weights)!, p.GetValue(activations)!, options.PerChannel,
                dynamic ? "none (dynamic)" : weightOnly ? "none (weight-only)" : observe ? $"{p.GetValue(calibration)} then observed in training" : p.GetValue(calibration)!, calibrationSet?.Count ?? 0, result.Stats, before, after, context.Notes)
            {
                ExecutorAccuracy = executorAccuracy,
                BlockSize = options.BlockSize,
            };
            if (p.GetValue(json)) cli.WriteJson(report);
            else Render(cli.Console, report);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static void Render(IAnsiConsole c, QuantizeReport r)
    {
        c.Write(ComparisonTable.Of(r.Before, r.After));
        foreach (var note in r.Notes) c.WriteLine($"note: {note}");
        var layers = r.Stats.GetValueOrDefault($"quantize-{(r.Mode == "dynamic" ? "dynamic" : "static")}.layers");
        if (r.ExecutorAccuracy is { } ea && r.After.Accuracy is { } oa)
            c.WriteLine($"quantization-aware training: executor (quantized weights, fake-quantized activations) {ea:P2}, ONNX Runtime on the quantized model {oa:P2} ({(oa - ea) * 100:+0.00;-0.00} points)");
        var ratio = (double)r.Before.Bytes / r.After.Bytes;
        var size = ratio >= 1 ? $"file {ratio:F2}x smaller" : $"file {1 / ratio:F2}x LARGER (scales, zero points and Q/DQ nodes outweigh the int8 weights of so small a model)";
        c.WriteLine(r.Mode == "dynamic"
            ? $"wrote {r.Out}: {r.Weights} weights ({r.Granularity}) in {layers} MatMul/Gemm layers, activations quantized at run time; {size}"
            : r.Activations == "float"
                ? $"wrote {r.Out}: {r.Weights} weights ({r.Granularity}) in {layers} layers, activations and biases kept float (weight-only); {size}"
                : $"wrote {r.Out}: {r.Weights} weights ({r.Granularity}), {r.Activations} activations calibrated by {r.Calibration} on {r.CalibrationSamples} samples; " +
                  $"{layers} layers, {r.Stats.GetValueOrDefault("quantize-static.tensors")} activation tensors; {size}");
        c.WriteLine(r.FasterNote);
    }
}

internal sealed record QuantizeReport(string Model, string Out, string Mode, string Weights, string Activations, bool PerChannel, string Calibration,
    int CalibrationSamples, IReadOnlyDictionary<string, long> Stats, ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes)
{
    public bool Faster => Comparison.Of(Before, After).Faster;

    /// <summary>Block-wise scales: weights per block along the reduction axis (0: per channel or per tensor).</summary>
    public int BlockSize { get; init; }

    public string Granularity => BlockSize > 0 ? $"block-wise, {BlockSize} per scale" : PerChannel ? "per channel" : "per tensor";

    /// <summary>QAT: the training executor's test accuracy at the end (quantized weights, fake-quantized activations).</summary>
    public double? ExecutorAccuracy { get; init; }

    public IReadOnlyList<double> Speedups => Comparison.Of(Before, After).Speedups;

    public string FasterNote => Before.Latency.Count == 0 || After.Latency.Count == 0
        ? "latency not measured"
        : Faster
            ? $"faster in ONNX Runtime: {Comparison.Of(Before, After).Verdicts} (p50 of interleaved runs; interquartile ranges apart)"
            : $"NOT faster in ONNX Runtime at every batch size by the measure of this run: {Comparison.Of(Before, After).Verdicts} (p50 of interleaved runs)" +
              (After.Comparison?.Any(r => r.Verdict == LatencyVerdict.Slower) == true ? "; where slower, the Q/DQ steps cost more than the integer kernels save" : "");
}
