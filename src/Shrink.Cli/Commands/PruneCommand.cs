using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Training.FineTuning;
using Shrink.Stats;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Training.Optim;
using Shrink.Training.Pruning;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink prune MODEL --method magnitude|random|N:M --sparsity S [--scope layer|global] [--layers CONFIG]
/// [--schedule oneshot|iterative --steps K] [--finetune-epochs N --data DIR] --out OUT</c>: unstructured
/// pruning, optionally fine-tuned with the masks held, with size, non-zeros, MACs, accuracy and ONNX
/// Runtime latency before and after, measured in one run.
/// </summary>
internal static class PruneCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var method = new Option<string>("--method") { Description = "Unstructured: magnitude (smallest |w|), random (baseline), taylor (smallest |w·∂L/∂w| on --data), N:M such as 2:4. Structured (channels cut out of the graph): l1-filter, l2-filter, fpgm, bn-scale (|γ|), slim (|γ| after --slim-epochs of L1 on γ), apoz, entropy, taylor-filter (measured on --data)", DefaultValueFactory = _ => "magnitude" };
        var sparsity = new Option<double?>("--sparsity") { Description = "Fraction of weights to zero, in [0, 1) (N:M sets its own)" };
        var scope = new Option<string>("--scope") { Description = "layer (each layer at the sparsity) or global (one threshold over all layers)", DefaultValueFactory = _ => "layer" };
        scope.AcceptOnlyFromAmong("layer", "global");
        var layers = new Option<string?>("--layers") { Description = "JSON file of layer name → sparsity; only those layers are pruned" };
        var schedule = new Option<string>("--schedule") { Description = "oneshot; iterative (K rounds of prune and fine-tune, sparsity S·(1 − (1 − i/K)³) in round i); agp (gradual magnitude pruning while fine-tuning, Zhu & Gupta)", DefaultValueFactory = _ => "oneshot" };
        schedule.AcceptOnlyFromAmong("oneshot", "iterative", "agp");
        var steps = new Option<int>("--steps") { Description = "Iterative schedule: number of prune/fine-tune rounds", DefaultValueFactory = _ => 3 };
        var finetune = new Option<int>("--finetune-epochs") { Description = "Fine-tuning epochs after each pruning round (needs --data)", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST directory or 'embedded': enables accuracy figures and fine-tuning (without it pruning is data-free)" };
        var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
        var batch = new Option<int>("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Seed of random pruning and fine-tuning", DefaultValueFactory = _ => 0 };
        var channelMultiple = new Option<int>("--channel-multiple") { Description = "Structured: round kept channel counts up to a multiple of this (odd widths run slowly in ONNX Runtime)", DefaultValueFactory = _ => 8 };
        var slimEpochs = new Option<int>("--slim-epochs") { Description = "slim: epochs of sparsity training (L1 penalty on BatchNorm γ) before the cut", DefaultValueFactory = _ => 0 };
        var slimPenalty = new Option<double>("--slim-penalty") { Description = "slim: weight λ of the L1 penalty on γ", DefaultValueFactory = _ => 1e-4 };
        var scoreSamples = new Option<int>("--score-samples") { Description = "apoz, entropy: training images the activations are measured on", DefaultValueFactory = _ => 1024 };
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,64" };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var output = new Option<string>("--out") { Description = "Pruned ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var command = new Command("prune", "Prune weights (unstructured), optionally fine-tune with the masks held, and compare before/after")
        {
            model, method, sparsity, scope, layers, schedule, steps, finetune, data, lr, batch, seed, channelMultiple, slimEpochs, slimPenalty, scoreSamples,
            benchBatch, threads, dims, output, json,
        };
        foreach (var o in teacher.All.Concat(runDir.All)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher), p.GetValue(layers));
            var m = p.GetValue(method)!;
            var structural = StructuredPruneOptions.Methods.Contains(m);
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(finetune), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            if (tuning.Distillation is not null && tuning.Epochs < 1 && m != "slim" && p.GetValue(schedule) != "agp")
                throw new OptionsException("--teacher distills while fine-tuning; give --finetune-epochs (at least 1) and --data");
            if (tuning.Epochs < 0) throw new OptionsException($"--finetune-epochs must be 0 or more, got {tuning.Epochs}");
            if (tuning.Epochs > 0 && p.GetValue(data) is null) throw new OptionsException("--finetune-epochs needs --data (fine-tuning trains on it); without --data pruning is data-free");
            var job = structural
                ? StructuredJob(m, p.GetValue(sparsity), p.GetValue(layers), p.GetValue(schedule)!, p.GetValue(steps), p.GetValue(scope)!, p.GetValue(channelMultiple), tuning,
                    new ChannelCriteria(p.GetValue(slimEpochs), p.GetValue(slimPenalty), p.GetValue(scoreSamples)), hasData: p.GetValue(data) is not null)
                : UnstructuredJob(m, p.GetValue(sparsity), p.GetValue(layers), p.GetValue(schedule)!, p.GetValue(scope)!, p.GetValue(steps), p.GetValue(seed),
                    tuning, hasData: p.GetValue(data) is not null);
            var batches = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runnerOptions = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            using var run = runDir.Open(p, cli, outPath, trains: p.GetValue(data) is not null && (tuning.Epochs > 0 || p.GetValue(slimEpochs) > 0));

            var context = new PassContext();
            var sets = p.GetValue(data) is { } dir ? FashionMnist.Load(dir) : null;
            var pruned = job.Run(OnnxReader.Read(path), TeacherChoice.Inputs(teacherChoice, sets), context, cli);
            var measured = ModelSaver.Save(pruned, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runnerOptions), guard: guard);
            context.Notes.AddRange(measured.Notes);
            var report = new PruneReport(path, outPath, m, job.TargetSparsity, job.Scope, job.Rounds, tuning.Epochs, measured.Before, measured.After, context.Notes,
                measured.After.Stats!.Layers.Where(l => l.Parameters > 0).ToList(), structural);
            if (p.GetValue(json)) cli.WriteJson(report);
            else Render(cli.Console, report);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>A checked pruning job: what it reports and how it turns the model read from MODEL into the pruned one.</summary>
    private sealed record PruneJob(double TargetSparsity, string Scope, int Rounds, Func<Model, Techniques.TechniqueInputs, PassContext, CliContext, Model> Run);

    private static PruneJob UnstructuredJob(string m, double? sparsity, string? layers, string schedule, string scope, int steps, int seed,
        FineTuneOptions tuning, bool hasData)
    {
        var config = layers is { } cfg ? LayerSparsityConfig.Read(cfg) : null;
        if (sparsity is null && config is null && !m.Contains(':'))
            throw new OptionsException("--sparsity is required (or --layers with per-layer sparsities), e.g. --sparsity 0.9");
        var options = new UnstructuredPruneOptions
        {
            Method = m, Sparsity = sparsity ?? 0, LayerSparsity = config, Seed = seed,
            Scope = scope == "global" ? PruneScope.Global : PruneScope.Layer,
        }.Validate();
        var agp = schedule == "agp";
        var rounds = schedule == "iterative" ? steps : 1;
        if (rounds < 1) throw new OptionsException($"--steps must be at least 1, got {rounds}");
        if (rounds > 1 && options.NM is not null) throw new OptionsException($"--method {m} prunes to a fixed pattern; use --schedule oneshot");
        if (m == "taylor" && !hasData) throw new OptionsException("--method taylor measures |w·∂L/∂w| on data; give --data");
        if (agp && (tuning.Epochs < 1 || !hasData)) throw new OptionsException("--schedule agp prunes while training; give --data and --finetune-epochs (at least 1)");
        return new PruneJob(options.NM is { } nm ? 1 - (double)nm.N / nm.M : options.Sparsity, options.Scope.ToString().ToLowerInvariant(), rounds,
            (model, inputs, context, cli) => agp ? PruneGradually(model, options, tuning, inputs, cli) : Prune(model, options, rounds, tuning, inputs, context, cli));
    }

    /// <summary>Settings of the structured criteria that train or measure first.</summary>
    private sealed record ChannelCriteria(int SlimEpochs, double SlimPenalty, int ScoreSamples);

    /// <summary>
    /// Structured pruning: (slim: trains with an L1 penalty on BatchNorm γ first; apoz, entropy,
    /// taylor-filter: measures the channels on training data), ranks each channel group, cuts the lowest
    /// channels out of the graph, optionally fine-tunes the smaller model.
    /// </summary>
    private static PruneJob StructuredJob(string method, double? sparsity, string? layers, string schedule, int steps, string scope, int channelMultiple,
        FineTuneOptions tuning, ChannelCriteria criteria, bool hasData)
    {
        if (layers is not null) throw new OptionsException($"--layers sets unstructured per-layer sparsities; --method {method} prunes every channel group at --sparsity");
        if (schedule == "agp") throw new OptionsException($"--schedule agp is gradual magnitude pruning of weights; --method {method} runs oneshot or iterative (K rounds of cut and fine-tune)");
        var rounds = schedule == "iterative" ? steps : 1;
        if (rounds < 1) throw new OptionsException($"--steps must be at least 1, got {rounds}");
        if (rounds > 1 && (tuning.Epochs < 1 || !hasData)) throw new OptionsException("--schedule iterative fine-tunes after every round; give --data and --finetune-epochs (at least 1)");
        var target = sparsity ?? throw new OptionsException("--sparsity is required: the fraction of each group's channels to remove, e.g. --sparsity 0.5");
        var measured = StructuredPruneOptions.Measured.Contains(method);
        if (measured && !hasData) throw new OptionsException($"--method {method} measures channels on data; give --data");
        if (method == "slim" && (criteria.SlimEpochs < 1 || !hasData))
            throw new OptionsException("--method slim trains with an L1 penalty on BatchNorm γ before the cut; give --data and --slim-epochs (at least 1), or use bn-scale to cut by |γ| as it is");
        if (method != "slim" && criteria.SlimEpochs != 0) throw new OptionsException($"--slim-epochs belongs to --method slim, not {method}");
        if (criteria.ScoreSamples < 1) throw new OptionsException($"--score-samples must be at least 1, got {criteria.ScoreSamples}");
        var options = new StructuredPruneOptions
        {
            Method = method, Sparsity = target, ChannelMultiple = channelMultiple, Scope = scope == "global" ? PruneScope.Global : PruneScope.Layer,
            ChannelScores = measured ? new Dictionary<string, double[]>() : null,
        }.Validate();
        if (method == "slim" && !(criteria.SlimPenalty > 0 && criteria.SlimPenalty < 1)) throw new OptionsException($"--slim-penalty must be in (0, 1), got {criteria.SlimPenalty}");
        return new PruneJob(target, scope == "global" ? "global" : "group", rounds, (model, inputs, context, cli) =>
        {
            var sets = inputs.Data;
            if (method == "slim")
                model = FineTuner.Run(model, tuning with { Epochs = criteria.SlimEpochs }, inputs, cli.Session(), "slim sparsity training",
                    ex => new ITrainingHook[] { new SlimHook(ex, model, criteria.SlimPenalty) }).Model;
            var original = ChannelGroups.Find(model).ToDictionary(g => g.Key, g => g.Channels);
            var modified = false;
            for (var round = 1; round <= rounds; round++)
            {
                var scores = method switch
                {
                    "apoz" or "entropy" => ActivationCriteria.Measure(model, sets!.Train, method, criteria.ScoreSamples),
                    "taylor-filter" => MeasureTaylor(model, sets!.Train, tuning.Seed + round),
                    _ => null,
                };
                // The same cubic ramp as the unstructured iterative schedule, in fractions of the original channels.
                var step = options with { ChannelScores = scores, OriginalChannels = original, Sparsity = target * (1 - Math.Pow(1 - (double)round / rounds, 3)) };
                var roundContext = round == rounds ? context : new PassContext();
                var result = new PassPipeline(new StructuredPrunePass(step)).Run(model, roundContext);
                modified |= result.Modified;
                model = result.Model;
                if (round == rounds && !modified)
                    throw new OptionsException($"no channel group could be pruned at --sparsity {target}: {string.Join("; ", context.Notes.DefaultIfEmpty("every group is too small"))}");
                if (tuning.Epochs > 0) model = FineTuner.Run(model, tuning, inputs, cli.Session(), rounds == 1 ? "fine-tune" : $"round {round}/{rounds} fine-tune", seed: tuning.Seed + round - 1).Model;
            }
            return model;
        });
    }

    private static Dictionary<string, double[]> MeasureTaylor(Model model, Dataset train, int seed)
    {
        TorchRuntime.EnsureInitialized();
        return TaylorSaliency.MeasureChannels(model, train, seed: seed);
    }

    /// <summary>Prunes the model (K rounds of prune → fine-tune when iterative).</summary>
    private static Model Prune(Model model, UnstructuredPruneOptions options, int rounds, FineTuneOptions tuning, Techniques.TechniqueInputs inputs,
        PassContext context, CliContext cli)
    {
        var sets = inputs.Data;
        for (var round = 1; round <= rounds; round++)
        {
            // Zhu & Gupta's cubic ramp: large steps while the network is redundant, small ones near the target.
            var fraction = 1 - Math.Pow(1 - (double)round / rounds, 3);
            var step = rounds == 1 ? options : options with
            {
                Sparsity = options.Sparsity * fraction,
                LayerSparsity = options.LayerSparsity?.ToDictionary(kv => kv.Key, kv => kv.Value * fraction),
            };
            if (options.Method == "taylor")
            {
                TorchRuntime.EnsureInitialized();
                step = step with { Scores = TaylorSaliency.Measure(model, sets!.Train, seed: tuning.Seed + round) };
            }
            var result = new PassPipeline(new UnstructuredPrunePass(step)).Run(model, context);
            model = result.Model;
            if (tuning.Epochs == 0 || sets is null) continue;
            model = FineTuner.Run(model, tuning, inputs, cli.Session(), $"round {round}/{rounds} fine-tune", ex => new ITrainingHook[] { new MaskHook(ex, result.Artifact<PruningMasks>()!) }, tuning.Seed + round).Model;
        }
        return model;
    }

    /// <summary>Automated gradual pruning: trains the model while the magnitude masks tighten to the target.</summary>
    private static Model PruneGradually(Model model, UnstructuredPruneOptions options, FineTuneOptions tuning, Techniques.TechniqueInputs inputs, CliContext cli)
    {
        var sets = inputs.RequireData("agp");
        var totalSteps = (long)tuning.Epochs * ((sets.Train.Count + tuning.Batch - 1) / tuning.Batch);
        return FineTuner.Run(model, tuning, inputs, cli.Session(), "agp", ex => new ITrainingHook[] { new AgpHook(ex, options, totalSteps) }).Model;
    }

    private static void Render(IAnsiConsole c, PruneReport r)
    {
        var table = ComparisonTable.Of(r.Before, r.After);
        c.Write(table);
        foreach (var note in r.Notes) c.WriteLine($"note: {note}");
        c.WriteLine(r.Structural
            ? $"wrote {r.Out}: {r.Method} pruning removed channels: {r.Before.Parameters:N0} → {r.After.Parameters:N0} parameters, {Format.Macs(r.Before.Macs, true)} → {Format.Macs(r.After.Macs, true)} MACs per sample ({1 - (double)r.After.Macs / r.Before.Macs:P1} fewer)"
            : $"wrote {r.Out}: {r.Method} pruning, {r.After.Sparsity:P1} of the parameters are zero");
        c.WriteLine(r.FasterNote);
    }
}

internal sealed record PruneReport(string Model, string Out, string Method, double TargetSparsity, string Scope, int Rounds, int FinetuneEpochs,
    ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes, IReadOnlyList<LayerStats> Layers, bool Structural)
{
    private const string SameKernels = "unstructured sparsity keeps every layer's shape, and ONNX Runtime runs the same dense kernels";

    /// <summary>
    /// Faster when the interleaved comparison finds it faster (interquartile ranges apart) at every batch size: one rule
    /// for structured and unstructured pruning, so that the words agree with the latency rows. (Unstructured pruning keeps
    /// every shape and runs the same dense kernels, which the note says beside whatever this run measured.)
    /// </summary>
    public bool Faster => Comparison.Of(Before, After).Faster;

    /// <summary>Latency ratio (before / after) per measured batch size.</summary>
    public IReadOnlyList<double> Speedups => Comparison.Of(Before, After).Speedups;

    public string FasterNote
    {
        get
        {
            var c = Comparison.Of(Before, After);
            if (!c.LatencyMeasured)
                return Structural ? "latency not measured (--bench-batch none)"
                    : $"not faster: {SameKernels}; the zeros pay off in compressed size (gzip above) and later in Deep Compression, not in latency";
            if (Structural) return ComparisonTable.Verdict(c);
            return c.FasterSomewhere
                ? $"{c.Verdicts} by the measure of this run (p50 of interleaved runs), although {SameKernels}: a difference the zeros cannot make; they pay off in compressed size (gzip above) and later in Deep Compression"
                : $"not faster: {SameKernels} ({c.Verdicts}, p50 of interleaved runs); the zeros pay off in compressed size (gzip above) and later in Deep Compression, not in latency";
        }
    }
}
