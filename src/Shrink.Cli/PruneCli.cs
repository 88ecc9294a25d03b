using System.CommandLine;
using Shrink.Passes.Pruning;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;

namespace Shrink.Cli;

/// <summary>
/// The options of <c>shrink prune</c> and their mapping to <see cref="PruneOptions"/>: the checks that name
/// flags (what needs --data, a missing --sparsity, an unknown --method) are made here, in the command's words;
/// the library checks the rest, and the CLI prints the flag of the property it names.
/// </summary>
internal sealed class PruneCli
{
    public Argument<string> Model { get; } = Options.Model();
    public Option<string> Method { get; } = new("--method") { Description = "Unstructured: magnitude (smallest |w|), random (baseline), taylor (smallest |w·∂L/∂w| on --data), N:M such as 2:4. Structured (channels cut out of the graph): l1-filter, l2-filter, fpgm, bn-scale (|γ|), slim (|γ| after --slim-epochs of L1 on γ), apoz, entropy, taylor-filter (measured on --data)", DefaultValueFactory = _ => "magnitude" };
    public Option<double?> Sparsity { get; } = new("--sparsity") { Description = "Fraction of weights to zero, in [0, 1) (N:M sets its own)" };
    public Option<string> Scope { get; } = new("--scope") { Description = "layer (each layer at the sparsity) or global (one threshold over all layers)", DefaultValueFactory = _ => "layer" };
    public Option<string?> Layers { get; } = new("--layers") { Description = "JSON file of layer name → sparsity; only those layers are pruned" };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "oneshot; iterative (K rounds of prune and fine-tune, sparsity S·(1 − (1 − i/K)³) in round i); agp (gradual magnitude pruning while fine-tuning, Zhu & Gupta)", DefaultValueFactory = _ => "oneshot" };
    public Option<int> Steps { get; } = new("--steps") { Description = "Iterative schedule: number of prune/fine-tune rounds", DefaultValueFactory = _ => 3 };
    public Option<int> Finetune { get; } = new("--finetune-epochs") { Description = "Fine-tuning epochs after each pruning round (needs --data)", DefaultValueFactory = _ => 0 };
    public Option<double> Lr { get; } = new("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
    public Option<int> Batch { get; } = new("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of random pruning and fine-tuning", DefaultValueFactory = _ => 0 };
    public Option<int> ChannelMultiple { get; } = new("--channel-multiple") { Description = "Structured: round kept channel counts up to a multiple of this (odd widths run slowly in ONNX Runtime)", DefaultValueFactory = _ => 8 };
    public Option<int> SlimEpochs { get; } = new("--slim-epochs") { Description = "slim: epochs of sparsity training (L1 penalty on BatchNorm γ) before the cut", DefaultValueFactory = _ => 0 };
    public Option<double> SlimPenalty { get; } = new("--slim-penalty") { Description = "slim: weight λ of the L1 penalty on γ", DefaultValueFactory = _ => 1e-4 };
    public Option<int> ScoreSamples { get; } = new("--score-samples") { Description = "apoz, entropy: training images the activations are measured on", DefaultValueFactory = _ => 1024 };
    public Option<string> BenchBatch { get; } = new("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,64" };
    public Option<int> Threads { get; } = Options.Threads();
    public Option<string[]> Dims { get; } = Options.Dims();
    public Option<string> Output { get; } = new("--out") { Description = "Pruned ONNX model to write", Required = true };
    public Option<bool> Json { get; } = Options.Json();
    public Option<string> Verbosity { get; } = new("--verbosity") { Description = "Notes: normal (what was left alone, in short: per reason, the count and a few examples) or detailed (every group left alone, with its reason)", DefaultValueFactory = _ => "normal" };
    public TeacherCli Teacher { get; } = new();

    /// <summary>--data (accuracy or fidelity figures, fine-tuning, measured criteria; without it pruning is data-free) and the data flags.</summary>
    public DataCli DataFlags { get; }

    public Option<string?> Data => DataFlags.Data;

    public PruneCli()
    {
        DataFlags = new DataCli("Data for accuracy (or, without labels, fidelity) figures, fine-tuning and measured criteria (without it pruning is data-free): " + DataCli.Description, Seed, trains: true);
        Verbosity.AcceptOnlyFromAmong("normal", "detailed");
        Scope.AcceptOnlyFromAmong("layer", "global");
        Schedule.AcceptOnlyFromAmong("oneshot", "iterative", "agp");
    }

    public IEnumerable<Option> All => new Option[]
    {
        Method, Sparsity, Scope, Layers, Schedule, Steps, Finetune, Data, Lr, Batch, Seed, ChannelMultiple, SlimEpochs, SlimPenalty, ScoreSamples,
        BenchBatch, Threads, Dims, Output, Json, Verbosity,
    }.Concat(Teacher.All).Concat(DataFlags.Flags);

    /// <summary>The notes level --verbosity sets.</summary>
    public Passes.NotesLevel Notes(ParseResult p) => p.GetValue(Verbosity) == "detailed" ? Passes.NotesLevel.Detailed : Passes.NotesLevel.Normal;

    /// <summary>The flags that set options-record properties under other names.</summary>
    public static readonly (string Property, string Flag)[] Aliases =
    {
        (nameof(PruneOptions.LayerSparsity), "--layers"), (nameof(PruneOptions.Pattern), "--method"),
        (nameof(FineTuneOptions.Epochs), "--finetune-epochs"), (nameof(FineTuneOptions.LearningRate), "--lr"),
    };

    /// <summary>The pruning options from the command line, checked against what --data and --teacher give.</summary>
    public PruneOptions Build(ParseResult p, TeacherChoice? teacher)
    {
        var m = p.GetValue(Method)!;
        var hasData = p.GetValue(Data) is not null;
        var tuning = new FineTuneOptions { Epochs = p.GetValue(Finetune), LearningRate = p.GetValue(Lr), Batch = p.GetValue(Batch), Seed = p.GetValue(Seed), Distillation = teacher?.Options };
        var schedule = p.GetValue(Schedule)!;
        if (tuning.Distillation is not null && tuning.Epochs < 1 && m != "slim" && schedule != "agp")
            throw new OptionsException("--teacher distills while fine-tuning; give --finetune-epochs (at least 1) and --data");
        if (tuning.Epochs < 0) throw new OptionsException($"--finetune-epochs must be 0 or more, got {tuning.Epochs}");
        if (tuning.Epochs > 0 && !hasData) throw new OptionsException("--finetune-epochs needs --data (fine-tuning trains on it); without --data pruning is data-free");
        var options = new PruneOptions
        {
            Sparsity = p.GetValue(Sparsity), Scope = p.GetValue(Scope) == "global" ? PruneScope.Global : PruneScope.Layer,
            Schedule = Enum.Parse<PruneSchedule>(schedule, ignoreCase: true), Steps = p.GetValue(Steps), Seed = p.GetValue(Seed),
            ChannelMultiple = p.GetValue(ChannelMultiple), SlimEpochs = p.GetValue(SlimEpochs), SlimPenalty = p.GetValue(SlimPenalty),
            ScoreSamples = p.GetValue(ScoreSamples), FineTune = tuning,
        };
        options = PruneMethods.Parse(m) is { } method && method.IsStructured()
            ? Structured(options with { Method = method }, p.GetValue(Layers), hasData)
            : Unstructured(options, m, p.GetValue(Layers), hasData);
        return options.Validate(hasData, teacher is not null);
    }

    private static PruneOptions Unstructured(PruneOptions o, string m, string? layers, bool hasData)
    {
        o = o with { LayerSparsity = layers is { } cfg ? LayerSparsityConfig.Read(cfg, "--layers") : null };
        if (o.Sparsity is null && o.LayerSparsity is null && !m.Contains(':'))
            throw new OptionsException("--sparsity is required (or --layers with per-layer sparsities), e.g. --sparsity 0.9");
        o = NmPattern.Parse(m) is { } pattern ? o with { Method = PruneMethod.NM, Pattern = pattern }
            : m is "magnitude" or "random" or "taylor" ? o with { Method = PruneMethods.Parse(m)!.Value }
            : throw new OptionsException($"unknown unstructured method '{m}'; choose magnitude, random, taylor or N:M such as 2:4");
        if (o.Method != PruneMethod.NM && o.LayerSparsity is null) CheckSparsity(o.Sparsity ?? 0);
        if (o.Method == PruneMethod.Taylor && !hasData) throw new OptionsException("--method taylor measures |w·∂L/∂w| on data; give --data");
        if (o.Schedule == PruneSchedule.Agp && (o.FineTune.Epochs < 1 || !hasData))
            throw new OptionsException("--schedule agp prunes while training; give --data and --finetune-epochs (at least 1)");
        return o;
    }

    private static PruneOptions Structured(PruneOptions o, string? layers, bool hasData)
    {
        var m = o.Method.Name();
        if (layers is not null) throw new OptionsException($"--layers sets unstructured per-layer sparsities; --method {m} prunes every channel group at --sparsity");
        if (o.Rounds > 1 && (o.FineTune.Epochs < 1 || !hasData))
            throw new OptionsException("--schedule iterative fine-tunes after every round; give --data and --finetune-epochs (at least 1)");
        if (o.Sparsity is not { } sparsity) throw new OptionsException("--sparsity is required: the fraction of each group's channels to remove, e.g. --sparsity 0.5");
        if (o.Method.IsMeasured() && !hasData) throw new OptionsException($"--method {m} measures channels on data; give --data");
        if (o.Method == PruneMethod.Slim && (o.SlimEpochs < 1 || !hasData))
            throw new OptionsException("--method slim trains with an L1 penalty on BatchNorm γ before the cut; give --data and --slim-epochs (at least 1), or use bn-scale to cut by |γ| as it is");
        if (o.Method != PruneMethod.Slim && o.SlimEpochs != 0) throw new OptionsException($"--slim-epochs belongs to --method slim, not {m}");
        CheckSparsity(sparsity);
        return o;
    }

    private static void CheckSparsity(double s)
    {
        if (double.IsNaN(s) || s < 0 || s >= 1) throw new OptionsException($"the sparsity of --sparsity is {s}; it must be in [0, 1), e.g. 0.9 for 90 % zeros");
    }
}
