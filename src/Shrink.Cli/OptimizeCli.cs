using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Shrink.Search;
using Shrink.Training.Optimization;

namespace Shrink.Cli;

/// <summary>The flags of <c>shrink optimize</c> and their mapping onto <see cref="OptimizeOptions"/>.</summary>
internal sealed partial class OptimizeCli
{
    public Option<double?> MaxDrop { get; } = new("--max-accuracy-drop") { Description = "Accuracy budget: the most a candidate may lose, in points (0.5: from 91.0 % to 90.5 %), on the full test split" };
    public Option<double?> MinFidelity { get; } = new("--min-fidelity") { Description = "Budget without labels: the least top-1 agreement with the original model, in (0, 1]" };
    public Option<string> Goal { get; } = new("--goal") { Description = "size (bytes: parameters at their stored width, sparse ones as Deep Compression stores them; a clustered model's container), latency (ONNX Runtime, only changes measured faster) or both (a Pareto front)", DefaultValueFactory = _ => "size" };
    public Option<string?> Teacher { get; } = new("--teacher") { Description = "ONNX model every fine-tuning distills from (default: the original model)" };
    public Option<string?> Budget { get; } = new("--budget") { Description = "Search budget: a time (2h, 30m, 90s, 1h30m) or a number of trials (20)" };
    public Option<int?> Trials { get; } = new("--trials") { Description = "Trials of the whole run, resumes included" };
    public Option<int> Workers { get; } = new("--workers") { Description = "Trials at once; the threads (--threads, default one per core) are split between them", DefaultValueFactory = _ => 1 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the search, the fine-tuning and the bootstrap", DefaultValueFactory = _ => 0 };
    public Option<bool> Strict { get; } = new("--strict") { Description = "Accept only when the 95 % interval's far end is within the budget" };
    public Option<string> Strategy { get; } = new("--strategy") { Description = "evolution (regularized evolution), random, annealing or halving (successive halving: new configurations on a share of the data first, the best promoted)", DefaultValueFactory = _ => "evolution" };
    public Option<int> HalvingEta { get; } = new("--halving-eta") { Description = "Successive halving: each rung keeps its best 1/η and tries them on η times the data", DefaultValueFactory = _ => 3 };
    public Option<int> HalvingRungs { get; } = new("--halving-rungs") { Description = "Successive halving: the number of budgets (3 with η = 3: 1/9, 1/3 and all of the data)", DefaultValueFactory = _ => 3 };
    public Option<string> LatencyBatch { get; } = new("--latency-batch") { Description = "Batch sizes of the latency measurements", DefaultValueFactory = _ => "1,256" };
    public Option<int> MaxEpochs { get; } = new("--max-epochs") { Description = "The most fine-tuning epochs a trial may choose", DefaultValueFactory = _ => 2 };
    public Option<string?> Techniques { get; } = new("--techniques") { Description = "Only these techniques, comma-separated: unstructured, structured, factorize, quantize, cluster, merge, half (default: all)" };
    public Option<int?> Limit { get; } = new("--limit") { Description = "Fine-tune on the first N training samples only" };
    public Option<string?> Storage { get; } = new("--storage") { Description = "Trial store instead of DIR/trials.db: postgresql://[USER@]HOST[:PORT]/DATABASE[?schema=S] (shared by many runs and machines) or sqlite:PATH" };
    public Option<string?> Study { get; } = new("--study") { Description = "The study's name in --storage (default: optimize)" };
    public Option<string> Role { get; } = new("--role") { Description = "both (evaluate the trials here) or coordinator (only propose them, for shrink worker processes on any machine; needs --storage and --artifacts)", DefaultValueFactory = _ => "both" };
    public Option<string?> Artifacts { get; } = new("--artifacts") { Description = "With --role coordinator: a directory every worker reaches at the same path, where the inputs and the trials' files are kept by content hash" };
    public Option<string?> MaxPartBytes { get; } = new("--max-part-bytes") { Description = "At the end, split the chosen model as shrink split does, each part's weights under this size (bytes, or with KB/KiB/MB/MiB/GB/GiB), into DIR/best.parts/" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue the run in --out (same options): finished trials are kept, a running one is retried" };
    public Option<string> Out { get; } = new("--out") { Description = "Run directory: best.onnx, best.recipe.yaml, pareto.json, result.json, report.html, report.json, trials.db", Required = true };

    public IEnumerable<Option> All => [MaxDrop, MinFidelity, Goal, Teacher, Budget, Trials, Workers, Seed, Strict, Strategy, HalvingEta, HalvingRungs, LatencyBatch, MaxEpochs, Techniques, Limit, Storage, Study, Role, Artifacts, MaxPartBytes, Resume, Out];

    /// <summary>Property → flag where the names differ.</summary>
    public static readonly (string Property, string Flag)[] Aliases =
    [
        (nameof(OptimizeOptions.WallTime), "--budget"), (nameof(OptimizeOptions.LatencyBatches), "--latency-batch"), (nameof(OptimizeOptions.Workers), "--workers"),
        (nameof(OptimizeOptions.MaxAccuracyDrop), "--max-accuracy-drop"), ("TrainLimit", "--limit"), ("Model", "MODEL"),
    ];

    public OptimizeCli()
    {
        Goal.AcceptOnlyFromAmong("size", "latency", "both");
        Strategy.AcceptOnlyFromAmong("evolution", "random", "annealing", "halving");
        Role.AcceptOnlyFromAmong("both", "coordinator");
    }

    /// <summary>The options the flags give (checked by the library: the message names the property, printed as its flag).</summary>
    public OptimizeOptions Build(ParseResult p, int threads)
    {
        var (trials, wall) = ParseBudget(p.GetValue(Budget));
        if (trials is not null && p.GetValue(Trials) is not null) throw new OptionsException("give the number of trials once: --budget N or --trials N");
        return new OptimizeOptions
        {
            Goal = Enum.Parse<OptimizeGoal>(p.GetValue(Goal)!, ignoreCase: true), MaxAccuracyDrop = p.GetValue(MaxDrop), MinFidelity = p.GetValue(MinFidelity),
            Strict = p.GetValue(Strict), Trials = trials ?? p.GetValue(Trials), WallTime = wall, Workers = p.GetValue(Workers), Threads = threads,
            Seed = p.GetValue(Seed), Strategy = Enum.Parse<OptimizeStrategy>(p.GetValue(Strategy)!, ignoreCase: true),
            HalvingEta = p.GetValue(HalvingEta), HalvingRungs = p.GetValue(HalvingRungs),
            LatencyBatches = Options.ParseIntList("--latency-batch", p.GetValue(LatencyBatch)!), MaxEpochs = p.GetValue(MaxEpochs), Resume = p.GetValue(Resume), Storage = p.GetValue(Storage), StudyName = p.GetValue(Study),
            Role = Enum.Parse<SearchRole>(p.GetValue(Role)!, ignoreCase: true), Artifacts = p.GetValue(Artifacts) is { } artifacts ? Path.GetFullPath(artifacts) : null,
            Techniques = ParseTechniques(p.GetValue(Techniques)),
            Split = p.GetValue(MaxPartBytes) is { } bound ? new Passes.Deployment.SplitOptions { MaxPartBytes = Options.ParseBytes("--max-part-bytes", bound) } : null,
        }.Validate();
    }

    /// <summary>"quantize,cluster" as techniques; null for none given.</summary>
    public static IReadOnlyList<CompressionTechnique>? ParseTechniques(string? text)
    {
        if (text is null) return null;
        var names = Enum.GetValues<CompressionTechnique>().Select(t => t.ToString().ToLowerInvariant()).ToArray();
        return text.Split(',', StringSplitOptions.TrimEntries).Select(name => Enum.TryParse<CompressionTechnique>(name, ignoreCase: true, out var t) && names.Contains(name.ToLowerInvariant())
            ? t : throw new OptionsException($"--techniques names '{Text.Message.Name(name)}', which is not a technique of the space; choose from {string.Join(", ", names)}")).ToList();
    }

    /// <summary>"2h", "30m", "90s", "1h30m" (a wall time) or "20" (trials); null for none.</summary>
    public static (int? Trials, TimeSpan? Wall) ParseBudget(string? text)
    {
        if (text is null) return (null, null);
        var t = text.Trim();
        if (int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0) return (n, null);
        var m = Duration().Match(t.ToLowerInvariant());
        if (!m.Success || t.Length == 0 || m.Groups.Cast<Group>().Skip(1).All(g => !g.Success))
            throw new OptionsException($"--budget '{Text.Message.Name(text)}' is neither a time nor a number of trials; give e.g. 2h, 30m, 90s, 1h30m or 20");
        double Part(int g) => m.Groups[g].Success ? double.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
        var wall = TimeSpan.FromHours(Part(1)) + TimeSpan.FromMinutes(Part(2)) + TimeSpan.FromSeconds(Part(3));
        if (wall <= TimeSpan.Zero) throw new OptionsException($"--budget '{Text.Message.Name(text)}' is no time at all; give e.g. 30m");
        return (null, wall);
    }

    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")]
    private static partial Regex Duration();
}
