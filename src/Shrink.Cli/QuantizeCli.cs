using System.CommandLine;
using System.Text.Json;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes.Quantization;
using Shrink.Recipes;
using Shrink.Training.FineTuning;
using Shrink.Training.Quantization;

namespace Shrink.Cli;

/// <summary>
/// The options of <c>shrink quantize</c> and their mapping to the library's <see cref="QuantizeOptions"/> and
/// <see cref="QatOptions"/> (techniques <c>quantize</c> and <c>quantize-qat</c>) and to a recipe's data and runtime;
/// the checks of the flags, in the command's words, happen here before the library runs.
/// </summary>
internal sealed class QuantizeCli
{
    public Argument<string> Model { get; } = Options.Model();
    public Option<string> Mode { get; } = Choice("--mode", "static: int8 weights and activations, activation ranges calibrated on samples; dynamic: int8 Conv/MatMul/Gemm weights and embedding tables, activations quantized at run time (no calibration)", "static", "dynamic", "qat");
    public Option<int> Epochs { get; } = new("--epochs") { Description = "qat: training epochs with quantized weights and fake-quantized activations (straight-through estimator)", DefaultValueFactory = _ => 0 };
    public Option<double> Lr { get; } = new("--lr") { Description = "qat: learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
    public Option<int> Batch { get; } = new("--batch") { Description = "qat: batch size", DefaultValueFactory = _ => 128 };
    public Option<int> Seed { get; } = new("--seed") { Description = "qat: seed", DefaultValueFactory = _ => 0 };
    public Option<string> Ranges { get; } = Choice("--activation-ranges", "qat: observed (moving-average min/max of the training activations, as PyTorch's QAT observers) or calibrated (fixed at the calibration ranges)", "observed", "calibrated");
    public Option<string> Weights { get; } = Choice("--weights", "Weight precision: int8, int4 (levels ±7), ternary (TWN: −α, 0, +α), binary (±α)", "int8", "int4", "ternary", "binary");
    public Option<string> Storage { get; } = Choice("--storage", "Container of int4, ternary and binary weights: matmulnbits (with --activations float, int4 MatMul/Gemm layers as ONNX Runtime's MatMulNBits, whose CPU kernels read the packed blocks; --block-size 32 unless given; other layers as int4), int4 (ONNX INT4 in DequantizeLinear, opset 21, packed two per byte; dequantized at run time) or int8 (levels in int8, run by ONNX Runtime's int8 kernels; the size statistics count the packed bits)", "matmulnbits", "int4", "int8");
    public Option<bool> AsymmetricWeights { get; } = new("--asymmetric-weights") { Description = "--storage matmulnbits: a zero point per block (levels 0 to 15 over the block's min/max) instead of symmetric levels ±7" };
    public Option<int> AccuracyLevel { get; } = new("--accuracy-level") { Description = "int4 weights as MatMulNBits: its accuracy_level; 0 (default) multiplies in float on the dequantized blocks, 4 quantizes the activations to int8 per block and multiplies in integers where the CPU has a kernel for it (faster, less exact)", DefaultValueFactory = _ => 0 };
    public Option<int> BlockSize { get; } = new("--block-size") { Description = "int4 storage: one scale per this many weights along the reduction axis (block-wise, DequantizeLinear block_size) instead of per channel; 0 for none", DefaultValueFactory = _ => 0 };
    public Option<string> ReduceRange { get; } = Choice("--reduce-range", "int8 weights in 7 bits (levels ±64), so ONNX Runtime's u8×s8 kernels on x86 without VNNI (AVX2, AVX-512 without VNNI), whose int16 pair sums saturate, stay exact: auto (on when this CPU is such a machine and activations are quantized), on (deploying to such machines), off (deploying to VNNI or ARM machines)", "auto", "on", "off");
    public Option<string> Activations { get; } = Choice("--activations", "uint8 (asymmetric; what ONNX Runtime's x86 kernels prefer), int8 (symmetric) or float (weight-only quantization, no calibration)", "uint8", "int8", "float");
    public Option<bool> PerChannel { get; } = new("--per-channel") { Description = "One weight scale per output channel (else one per tensor)" };
    public Option<string?> OpTypes { get; } = new("--op-types") { Description = "Comma-separated op types to quantize, as ONNX Runtime's op_types_to_quantize (static: Conv, Gemm, MatMul and the ops between them; dynamic: Conv, Gather (embedding tables), Gemm, MatMul); default: all the mode quantizes" };
    public Option<bool?> MatMulConstBOnly { get; } = new("--matmul-const-b-only") { Description = "Quantize only MatMuls with a constant B (ONNX Runtime's MatMulConstBOnly); default: static false (attention's Q·Kᵀ and attention·V quantized too), dynamic true" };
    public Option<bool?> ActivationSymmetric { get; } = new("--activation-symmetric") { Description = "Static: activation ranges symmetric around zero (ONNX Runtime's ActivationSymmetric: uint8 zero point 128, int8 zero point 0); false: asymmetric; default: uint8 asymmetric, int8 symmetric" };
    public Option<string> Calibration { get; } = Choice("--calibration", "minmax, percentile (of |x|, --percentile) or entropy (KL divergence)", "minmax", "percentile", "entropy");
    public Option<double> Percentile { get; } = new("--percentile") { Description = "Percentile calibration: the percentile of |x| kept", DefaultValueFactory = _ => 99.99 };
    public Option<int> Samples { get; } = new("--calib-samples") { Description = "Calibration samples (the first N of the training data, or of --calib-data)", DefaultValueFactory = _ => 512 };
    public Option<string?> CalibData { get; } = new("--calib-data") { Description = "Calibration inputs: a .npy array of shape [N, …] (a single-input model of any input shape), or any data --data takes (its training split; labels unused)" };
    public Option<double?> MinFidelity { get; } = Options.MinFidelity("Static: the output cosine to the float model to reach on the calibration samples (the fallback chooses on half of them and confirms on the other half); the fewest most sensitive layers, measured one by one, are kept in float to reach it, and a result that cannot is refused (exit 2, nothing written)" +
        "; every mode's result is then checked against it too (--data's test split, else the calibration samples)");
    public Option<string> FallbackUnit { get; } = Choice("--fallback-unit", "--min-fidelity's fallback keeps in float: tensor (activation tensors, their layers' weights still quantized; layers' weights too where the weights alone miss the target) or layer (whole layers, the fallback before it)", "tensor", "layer");
    public Option<string?> FloatTensors { get; } = new("--float-tensors") { Description = "Comma-separated activation tensors kept in float (no Q/DQ; the layers around them keep quantized weights), named as the fallback lists them" };
    public Option<string> Verbosity { get; } = Choice("--verbosity", "Notes: normal (what the fallback kept in float, in short: the count and a few names) or detailed (every one)", "normal", "detailed");
    public Option<string?> Exclude { get; } = new("--exclude") { Description = "Comma-separated node names kept in float" };
    public Option<string?> Layers { get; } = new("--layers") { Description = "Mixed precision: JSON of layer name → int8|int4|ternary|binary|float" };
    public Option<string> BenchBatch { get; } = new("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,256" };
    public Option<int> Threads { get; } = Options.Threads();
    public Option<string[]> Dims { get; } = Options.Dims();
    public Option<string> Output { get; } = new("--out") { Description = "Quantized ONNX model to write", Required = true };
    public Option<bool> Json { get; } = Options.Json();
    public TeacherCli Teacher { get; } = new();
    public RunDirCli RunDir { get; } = new();
    public RecipeCli Recipe { get; } = new();
    /// <summary>The generic fidelity gate on the same --min-fidelity (one option: the float fallback's target is the gate's bound).</summary>
    public FidelityCli Gate { get; }

    /// <summary>--data and the data flags, which apply to --calib-data too (--seed seeds the split and augmentation).</summary>
    public DataCli DataFlags { get; }

    public Option<string?> Data => DataFlags.Data;

    public QuantizeCli() => (DataFlags, Gate) = (new DataCli(seed: Seed, trains: true), new FidelityCli(MinFidelity));

    public IEnumerable<Option> All => new Option[]
    {
        Mode, Epochs, Lr, Batch, Seed, Ranges, Weights, Storage, AsymmetricWeights, AccuracyLevel, BlockSize, ReduceRange, Activations, PerChannel, OpTypes, MatMulConstBOnly, ActivationSymmetric, Calibration, Percentile, Samples, CalibData, MinFidelity, FallbackUnit, FloatTensors, Verbosity, Exclude, Layers,
        Data, BenchBatch, Threads, Dims, Output, Json,
    }.Concat(DataFlags.Flags).Concat(Teacher.All).Concat(RunDir.All).Concat(Recipe.All);

    private static Option<string> Choice(string name, string description, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => values[0] };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    /// <summary>The notes level --verbosity sets.</summary>
    public Passes.NotesLevel Notes(ParseResult p) => p.GetValue(Verbosity) == "detailed" ? Passes.NotesLevel.Detailed : Passes.NotesLevel.Normal;

    /// <summary>The quantization options of the command line, their values checked in the flags' words.</summary>
    public QuantizeOptions Build(ParseResult p)
    {
        var options = new QuantizeOptions
        {
            Mode = p.GetValue(Mode) == "dynamic" ? QuantizeMode.Dynamic : QuantizeMode.Static,
            Weights = (WeightPrecision)LayerBitsConfig.Parse(p.GetValue(Weights)!)!.Value,
            Activations = p.GetValue(Activations) switch { "int8" => ActivationPrecision.Int8, "float" => ActivationPrecision.Float, _ => ActivationPrecision.UInt8 },
            PerChannel = p.GetValue(PerChannel),
            Calibration = p.GetValue(Calibration) switch { "percentile" => CalibrationMethod.Percentile, "entropy" => CalibrationMethod.Entropy, _ => CalibrationMethod.MinMax },
            Percentile = p.GetValue(Percentile),
            CalibrationSamples = p.GetValue(Samples),
            Exclude = (p.GetValue(Exclude) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList(),
            Storage = p.GetValue(Storage) switch { "int8" => WeightStorage.Int8, "int4" => WeightStorage.Int4, _ => WeightStorage.MatMulNBits },
            AsymmetricWeights = p.GetValue(AsymmetricWeights),
            BlockSize = p.GetValue(BlockSize),
            AccuracyLevel = p.GetValue(AccuracyLevel),
            ReduceRange = p.GetValue(ReduceRange) switch { "on" => Passes.Quantization.ReduceRange.On, "off" => Passes.Quantization.ReduceRange.Off, _ => Passes.Quantization.ReduceRange.Auto },
            MinFidelity = p.GetValue(MinFidelity),
            OpTypes = p.GetValue(OpTypes) is { } types ? types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList() : null,
            MatMulConstBOnly = p.GetValue(MatMulConstBOnly),
            ActivationSymmetric = p.GetValue(ActivationSymmetric),
            FallbackUnit = p.GetValue(FallbackUnit) == "layer" ? Passes.Quantization.FallbackUnit.Layer : Passes.Quantization.FallbackUnit.Tensor,
            FloatTensors = (p.GetValue(FloatTensors) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList(),
        };
        if (p.GetResult(FallbackUnit) is { Implicit: false } && options.MinFidelity is null) throw new OptionsException("--fallback-unit chooses what --min-fidelity's fallback keeps in float; give --min-fidelity too, or drop it");
        // Percentile, block size, calibration samples and op types on their own: the library's words, printed with the flag (OptionsException.For).
        options.ValidateValues();
        if (options.BlockSize > 0 && options.Storage == WeightStorage.Int8) throw new OptionsException("--block-size applies to weights stored as ONNX int4; drop --storage int8");
        return options;
    }

    /// <summary>The flags that need the model: --layers, and --reduce-range and --exclude against it.</summary>
    public QuantizeOptions WithModel(ParseResult p, QuantizeOptions options, Model model)
    {
        if (p.GetValue(Layers) is { } config) options = options with { Layers = ReadLayers(config, model) };
        if (p.GetResult(ReduceRange) is { Implicit: false } && options.Weights != WeightPrecision.Int8 && options.Layers?.Values.Contains(WeightPrecision.Int8) != true)
            throw new OptionsException("--reduce-range applies to int8 weights; drop it or give --weights int8");
        var missing = options.Exclude.Where(n => model.Graph.FindNode(n) is null).ToList();
        if (missing.Count > 0) throw new OptionsException($"--exclude names no node called {Text.Message.List(missing.Select(n => $"'{Text.Message.Name(n)}'"))}; see the node names with shrink inspect");
        return options; // validated by the library once the mode's flags are checked
    }

    /// <summary>The options of --mode qat (null for the other modes), and the checks of the flags that belong to it.</summary>
    public QatOptions? BuildQat(ParseResult p, QuantizeOptions options, TeacherChoice? teacher)
    {
        var qat = p.GetValue(Mode) == "qat";
        var tuning = new FineTuneOptions { Epochs = p.GetValue(Epochs), LearningRate = p.GetValue(Lr), Batch = p.GetValue(Batch), Seed = p.GetValue(Seed), Distillation = teacher?.Options };
        if (!qat && tuning.Distillation is not null) throw new OptionsException("--teacher distills during quantization-aware training; use it with --mode qat");
        if (qat && tuning.Epochs < 1) throw new OptionsException("--mode qat trains with quantized weights; give --epochs (at least 1) and --data");
        if (!qat && tuning.Epochs != 0) throw new OptionsException("--epochs belongs to --mode qat");
        if (!qat && p.GetResult(Ranges) is { Implicit: false }) throw new OptionsException("--activation-ranges belongs to --mode qat");
        if (!qat && DataFlags.Augments(p)) throw new OptionsException("--augment-padding and --flip augment training images; use them with --mode qat (static calibration reads the images as they are)");
        if (qat && options.Activations == ActivationPrecision.Float && p.GetResult(Ranges) is { Implicit: false }) throw new OptionsException("--activations float has no activation ranges; drop --activation-ranges");
        if (qat && !(tuning.LearningRate > 0)) throw new OptionsException($"--lr must be positive, got {tuning.LearningRate}");
        if (options.Mode == QuantizeMode.Dynamic && options.Activations != ActivationPrecision.UInt8)
            throw new OptionsException("--mode dynamic quantizes activations to uint8 at run time (DynamicQuantizeLinear); drop --activations int8");
        if (options.Mode == QuantizeMode.Dynamic && p.GetValue(CalibData) is not null) throw new OptionsException("--mode dynamic needs no calibration; drop --calib-data");
        if (options.WeightOnly && p.GetValue(CalibData) is not null) throw new OptionsException("--activations float quantizes the weights only and needs no calibration; drop --calib-data");
        var ranges = p.GetValue(Ranges) == "observed" ? QatActivationRanges.Observed : QatActivationRanges.Calibrated;
        return qat ? new QatOptions { Quantize = options, FineTune = tuning, ActivationRanges = ranges } : null;
    }

    /// <summary>Whether the command reads data: for accuracy (or fidelity) when --data is given, for QAT's training, and for calibration unless --calib-data is given.</summary>
    public bool LoadsData(ParseResult p, QuantizeOptions options, bool qat) =>
        p.GetValue(Data) is not null || qat || options.Calibrates && p.GetValue(CalibData) is null;

    /// <summary>
    /// The data of the command as a recipe names it: the data it reads (Fashion-MNIST where <see cref="FashionMnist.Locate"/>
    /// finds it when --data is not given), the --calib-data samples with the --calib-samples taken from them, and the --teacher.
    /// </summary>
    public RecipeData RecipeDataOf(ParseResult p, QuantizeOptions options, bool loadsData, TeacherChoice? teacher) =>
        (loadsData ? DataFlags.Recipe(p, FashionMnist.Locate(p.GetValue(Data))) : new RecipeData { Options = DataOptionsOf(p) }) with
        {
            Calibration = p.GetValue(CalibData),
            CalibrationSamples = options.CalibrationSamples,
            Teacher = teacher?.Source,
        };

    /// <summary>The options the data flags give to --data and --calib-data (null: none given).</summary>
    public DataOptions? DataOptionsOf(ParseResult p) => DataFlags.Build(p, hasData: p.GetValue(Data) is not null || p.GetValue(CalibData) is not null);

    /// <summary>The data the command reads (--data, else Fashion-MNIST, refused naming both flags when it does not fit the model).</summary>
    public DataSplits OpenData(ParseResult p, Model model, string modelName) =>
        DataCli.Open(p.GetValue(Data), DataOptionsOf(p), model, modelName, "give --calib-data or --data");

    /// <summary>The ONNX Runtime settings of calibration and measurement: --threads and --dim.</summary>
    public Runtime.RunnerOptions Runner(ParseResult p) => new() { Threads = p.GetValue(Threads), DimValues = Options.ParseDims(p.GetValue(Dims)) };

    /// <summary>The samples to calibrate on (--calib-data, else the training split of --data), checked against the model; null when none are needed.</summary>
    public CalibrationSet? CalibrationFor(ParseResult p, QuantizeOptions options, DataSplits? sets, Model model)
    {
        if (!options.Calibrates) return null;
        if (p.GetValue(CalibData) is { } given) DataCli.CheckPath(given, "--calib-data");
        var set = p.GetValue(CalibData) is not { } spec ? CalibrationSet.From(sets!.Train, options.CalibrationSamples)
            : spec.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? CalibrationSet.FromNpy(NpyFile.Read(spec), options.CalibrationSamples, $"--calib-data {spec}")
            : CalibrationSet.From(DataSources.Open(spec, DataOptionsOf(p) ?? new DataOptions(), model).Train, options.CalibrationSamples);
        set.CheckFits(model);
        return set;
    }

    /// <summary>
    /// Mixed precision from a JSON file mapping layer names to weight precisions, for example
    /// <c>{"conv1": "int8", "gemm1": "int4", "gemm2": "float"}</c> (also 8, 4, 2, 1, 32, "ternary", "binary").
    /// </summary>
    public static IReadOnlyDictionary<string, WeightPrecision> ReadLayers(string path, Model model)
    {
        const string Example = "{\"conv1\": \"int8\", \"gemm1\": \"int4\", \"gemm2\": \"float\"}";
        if (!File.Exists(path)) throw new OptionsException($"--layers '{path}' does not exist; give a JSON file such as {Example}");
        if (IO.FileIdentity.NotRegular(path, "--layers") is { } problem) throw new OptionsException(problem);
        Dictionary<string, JsonElement>? map;
        try { map = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new OptionsException($"--layers '{path}' is not a JSON object of layer names to precisions ({e.Message.Split('.')[0]}); write e.g. {Example}"); }
        if (map is null || map.Count == 0) throw new OptionsException($"--layers '{path}' names no layers; write e.g. {Example}");
        var result = new Dictionary<string, WeightPrecision>();
        foreach (var (layer, value) in map)
        {
            if (model.Graph.FindNode(layer) is null)
                throw new OptionsException($"--layers '{path}' names layer '{Text.Message.Name(layer)}', which the model does not have; see the layer names with shrink inspect");
            var text = value.ValueKind == JsonValueKind.Number ? value.GetRawText() : value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
            result[layer] = (WeightPrecision)(LayerBitsConfig.Parse(text)
                ?? throw new OptionsException($"--layers '{path}': layer '{layer}' has precision {value.GetRawText()}; use int8, int4, ternary, binary or float (or 8, 4, 2, 1, 32)"));
        }
        return result;
    }
}
