using System.CommandLine;
using System.Globalization;
using Shrink.Architecture;
using Shrink.Search;
using Shrink.Training.Architecture;
using Spectre.Console;

namespace Shrink.Cli;

/// <summary>The flags of <c>shrink search</c>, their mapping onto <see cref="ArchitectureSearchOptions"/>, and the rendering of its progress and result.</summary>
internal sealed class SearchCli
{
    public Option<string> Space { get; } = new("--space") { Description = "Search space file (YAML): stages of blocks, or an MLP; see spaces/", Required = true };
    public Option<string> Strategy { get; } = new("--strategy") { Description = "evolution (regularized evolution), random, annealing or halving (successive halving over the epochs)", DefaultValueFactory = _ => "evolution" };
    public Option<int> Trials { get; } = new("--trials") { Description = "Trials of the whole run, resumes included", DefaultValueFactory = _ => 20 };
    public Option<int> Epochs { get; } = new("--epochs-per-trial") { Description = "Training epochs of each candidate", DefaultValueFactory = _ => 1 };
    public Option<int> FinalEpochs { get; } = new("--final-epochs") { Description = "Train the best candidate of each objective afresh for K epochs at the end (best-OBJECTIVE.onnx)", DefaultValueFactory = _ => 0 };
    /// <summary>--teacher (every candidate is distilled from it; its classes must be the data's), --temperature and --alpha.</summary>
    public TeacherCli Teacher { get; } = new();
    /// <summary>How each candidate trains, and the final models (--batch, --optimizer, --lr, --weight-decay, --schedule, …); the library's default: adam at 0.001, constant.</summary>
    public TrainingRecipeCli Training { get; } = new("adam");
    public Option<string> Objective { get; } = new("--objective") { Description = "Comma-separated goals: accuracy (or fidelity), latency_b1, latency_bN, params, bytes, macs; several give a Pareto front", DefaultValueFactory = _ => "accuracy" };
    public Option<string[]> Constraint { get; } = new("--constraint") { Description = "A limit such as 'params < 100k', 'macs < 5M' or 'latency_b1_ms < 0.3' (repeat for more); params, bytes and MACs are checked before training" };
    public Option<int> Workers { get; } = new("--workers") { Description = "Candidates trained at once", DefaultValueFactory = _ => 1 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the search, the candidates' weights and their training", DefaultValueFactory = _ => 0 };
    public Option<int> LargeBatch { get; } = new("--large-batch") { Description = "The large batch of the latency measurements (batch 1 is always measured)", DefaultValueFactory = _ => 256 };
    public Option<int> LatencyThreads { get; } = new("--latency-threads") { Description = "ONNX Runtime threads of the latency measurements (fixed, and recorded with the CPU model)", DefaultValueFactory = _ => 1 };
    public Option<string> Latency { get; } = new("--latency") { Description = "measured (after training), table (also predicted from per-block latencies cached in latency-table.json, before building: latency constraints prune early; agreement reported) or table-only (predicted, never measured)", DefaultValueFactory = _ => "measured" };
    public Option<string> References { get; } = new("--references") { Description = "Reference points of the results and report.html: zoo models trained like a trial (lenet5, lenet300, vgg-small, resnet-small) or NAME=FILE.onnx trained models, comma-separated; none for none", DefaultValueFactory = _ => "lenet5,lenet300,vgg-small" };
    public Option<int?> Limit { get; } = new("--limit") { Description = "Train on the first N training samples only" };
    public Option<string?> Storage { get; } = new("--storage") { Description = "Trial store instead of DIR/trials.db: postgresql://[USER@]HOST[:PORT]/DATABASE[?schema=S] (shared by many runs and machines) or sqlite:PATH" };
    public Option<string?> Study { get; } = new("--study") { Description = "The study's name in --storage (default: search)" };
    public Option<string> Role { get; } = new("--role") { Description = "both (evaluate the trials here) or coordinator (only propose them, for shrink worker processes on any machine; needs --storage and --artifacts)", DefaultValueFactory = _ => "both" };
    public Option<string?> Artifacts { get; } = new("--artifacts") { Description = "With --role coordinator: a directory every worker reaches at the same path, where the inputs and the trials' files are kept by content hash" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue the run in --out (same options): finished trials are kept, a running one is retried" };
    public Option<string> Out { get; } = new("--out") { Description = "Run directory: trials.db, trials/NNNN/model.onnx, result.json, pareto.json", Required = true };

    public IEnumerable<Option> All => [Space, Strategy, Trials, Epochs, FinalEpochs, .. Training.All, .. Teacher.All, Objective, Constraint, Workers, Seed, LargeBatch, LatencyThreads, Latency, References, Limit, Storage, Study, Role, Artifacts, Resume, Out];

    /// <summary>Property → flag where the names differ.</summary>
    public static readonly (string Property, string Flag)[] Aliases =
        [(nameof(ArchitectureSearchOptions.Objectives), "--objective"), (nameof(ArchitectureSearchOptions.Constraints), "--constraint"), ("TrainLimit", "--limit"),
         .. TrainingRecipeCli.Aliases];

    public SearchCli()
    {
        Strategy.AcceptOnlyFromAmong("evolution", "random", "annealing", "halving");
        Latency.AcceptOnlyFromAmong("measured", "table", "table-only");
        Role.AcceptOnlyFromAmong("both", "coordinator");
    }

    /// <summary>The options the flags give (checked by the library: the message names the property, printed as its flag).</summary>
    public ArchitectureSearchOptions Build(ParseResult p, Training.Distillation.DistillationOptions? distillation) => new ArchitectureSearchOptions
    {
        Distillation = distillation ?? new(),
        Training = Training.Apply(p, new ArchitectureSearchOptions().Training),
        Strategy = Enum.Parse<ArchitectureStrategy>(p.GetValue(Strategy)!, ignoreCase: true), Trials = p.GetValue(Trials), EpochsPerTrial = p.GetValue(Epochs),
        FinalEpochs = p.GetValue(FinalEpochs), Workers = p.GetValue(Workers), Seed = p.GetValue(Seed), Resume = p.GetValue(Resume), Storage = p.GetValue(Storage), StudyName = p.GetValue(Study),
            Role = Enum.Parse<SearchRole>(p.GetValue(Role)!, ignoreCase: true), Artifacts = p.GetValue(Artifacts) is { } artifacts ? Path.GetFullPath(artifacts) : null,
        LargeBatch = p.GetValue(LargeBatch), LatencyThreads = p.GetValue(LatencyThreads),
        Latency = Enum.Parse<LatencyMode>(p.GetValue(Latency)!.Replace("-", ""), ignoreCase: true),
        Objectives = p.GetValue(Objective)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(ArchitectureMetrics.ParseGoal).ToList(),
        Constraints = (p.GetValue(Constraint) ?? []).Select(ArchitectureMetrics.ParseConstraint).ToList(),
        References = p.GetValue(References) is "none" or "" ? [] : p.GetValue(References)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(ReferenceModel.Parse).ToList(),
    }.Validate();

    /// <summary>One line per finished trial on stderr.</summary>
    public static void Progress(CliContext cli, ArchitectureProgress e)
    {
        if (!e.Finished) return;
        var t = e.Trial;
        var origin = t.Parent is { } parent ? $"{t.Origin} of {parent + 1}" : t.Origin;
        var status = t.Status switch
        {
            TrialStatus.Completed => Metrics(t.Metrics) + (e.Feasible ? "" : " (outside a constraint)"),
            TrialStatus.Pruned => $"pruned {t.Error}",
            _ => $"failed: {t.Error}",
        };
        cli.Err.WriteLine($"trial {t.Number + 1}/{e.Trials} ({origin}{(t.Budget < 1 ? $", budget {t.Budget:G3}" : "")}): {e.Summary} | {status}");
    }

    /// <summary>The end of the run on stdout: the run, the results table (the front, the best of each goal, the models written, the references), the report.</summary>
    public static void Result(CliContext cli, ArchitectureSearchResult r)
    {
        var o = cli.Out;
        o.WriteLine($"search {r.Space}: {r.Trials.Count} trials ({r.Stop}), {r.Strategy.ToString().ToLowerInvariant()}; goals {string.Join(", ", r.Objectives)}"
            + (r.Constraints.Count > 0 ? $"; constraints {string.Join(", ", r.Constraints)}" : ""));
        o.WriteLine($"training: {r.Training}");
        o.WriteLine($"latency: ONNX Runtime, {r.Machine.Threads} thread{(r.Machine.Threads == 1 ? "" : "s")} on {r.Machine.Cpu}");
        if (r.LatencyTable is { } table) o.WriteLine(Agreement(table));
        if (r.Pareto.Count == 0) o.WriteLine($"no trial completed; their reasons are in {Path.Combine(r.Directory, "result.json")}");
        else cli.Console.Write(ResultTable(r));
        foreach (var f in r.Final) o.WriteLine($"wrote {f.Model}: best {f.Goal}, trial {f.Trial + 1}{(r.FinalEpochs > 0 ? $" trained {f.Epochs} epochs" : "")}");
        if (r.FrontModels.Count > 0) o.WriteLine($"wrote {r.FrontModels.Count} front model{(r.FrontModels.Count == 1 ? "" : "s")} into {Path.GetDirectoryName(r.FrontModels[0].Model)}");
        if (r.Report is { } report) o.WriteLine($"wrote {report} and {SearchReportPage.JsonFile}");
    }

    /// <summary>One row per front trial (its fully trained model's figures beside it, with final epochs), then one per reference.</summary>
    private static Table ResultTable(ArchitectureSearchResult r)
    {
        var batches = r.Trials.SelectMany(t => t.Metrics.Keys).Where(k => k.StartsWith("latency_", StringComparison.Ordinal)).Distinct().OrderBy(k => k.Length).ThenBy(k => k).ToList();
        var score = r.Trials.Any(t => t.Metrics.ContainsKey(ArchitectureMetrics.Fidelity)) ? ArchitectureMetrics.Fidelity : ArchitectureMetrics.Accuracy;
        var table = new Table().AddColumns(["model", score, .. batches.Select(b => b[..^3] + " ms"), "params", "MACs", "architecture or source"]);
        var best = r.Best.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => string.Join(", ", g.Select(kv => kv.Key)));
        void Row(string name, IReadOnlyDictionary<string, double> m, string what) => table.AddRow([Markup.Escape(name),
            m.TryGetValue(score, out var s) ? s.ToString(score == ArchitectureMetrics.Fidelity ? "F4" : "F2", CultureInfo.InvariantCulture) : "–",
            .. batches.Select(b => m.TryGetValue(b, out var ms) ? Format.Ms(ms) : "–"),
            m.TryGetValue(ArchitectureMetrics.Params, out var n) ? n.ToString("N0", CultureInfo.InvariantCulture) : "–",
            m.TryGetValue(ArchitectureMetrics.Macs, out var macs) ? macs.ToString("N0", CultureInfo.InvariantCulture) : "–", Markup.Escape(what)]);
        foreach (var number in r.Pareto.Concat(r.Best.Values).Distinct())
        {
            var t = r.Trials.First(x => x.Number == number);
            var role = (r.Pareto.Contains(number) ? "front" : "") + (best.TryGetValue(number, out var goals) ? $"{(r.Pareto.Contains(number) ? ", " : "")}best {goals}" : "");
            Row($"trial {number + 1} ({role}){(t.Feasible ? "" : " infeasible")}", t.Metrics, t.Summary);
            if (r.FinalEpochs > 0 && r.FrontModels.Concat(r.Final).FirstOrDefault(f => f.Trial == number) is { } f)
                Row($"  trained {f.Epochs} epochs", f.Metrics, f.Model);
        }
        foreach (var p in r.References) Row($"{p.Name} (reference)", p.Metrics, p.Source);
        return table;
    }

    /// <summary>
    /// "latency table: 14 blocks in latency-table.json; calibrated predictions within ±10 % of the measurement (trials predicted
    /// after the calibration): b1 83 % of 6 trials (Kendall τ 0.87), …; the table's sum alone: b1 …; calibration on 9 trials: b1 × 0.93 + 0.012 ms, …".
    /// </summary>
    public static string Agreement(LatencyTableSummary t)
    {
        var head = $"latency table: {t.Blocks} blocks in {t.File}";
        if (t.Agreement.Count == 0 && t.Uncalibrated.Count == 0) return head + "; latency taken from it, not measured (table-only)";
        static string Of(IReadOnlyList<LatencyAgreement> list) => string.Join(", ", list.Select(a => string.Create(CultureInfo.InvariantCulture,
            $"b{a.Batch} {a.WithinTenPercent * 100:F0} % of {a.Trials} trials (Kendall τ {(a.KendallTau is { } tau ? tau.ToString("F2", CultureInfo.InvariantCulture) : "–")})")));
        var line = head + "; calibrated predictions within ±10 % of the measurement (trials predicted after the calibration): " + Of(t.Agreement)
            + "; the table's sum alone: " + Of(t.Uncalibrated);
        return t.Calibration.Count == 0 ? line + "; not calibrated yet" : line + $"; calibration on {t.Calibration[0].Trials.Count} trials: " + string.Join(", ",
            t.Calibration.Select(k => string.Create(CultureInfo.InvariantCulture, $"b{k.Batch} × {k.Scale:G3} {(k.OffsetMs < 0 ? "−" : "+")} {Math.Abs(k.OffsetMs):G3} ms")));
    }

    private static string Metrics(IReadOnlyDictionary<string, double> m)
    {
        var parts = new List<string>();
        if (m.TryGetValue(ArchitectureMetrics.Accuracy, out var a)) parts.Add(string.Create(CultureInfo.InvariantCulture, $"accuracy {a:F2} %"));
        if (m.TryGetValue(ArchitectureMetrics.Fidelity, out var f)) parts.Add(string.Create(CultureInfo.InvariantCulture, $"fidelity {f:F4}"));
        foreach (var (k, v) in m.Where(kv => kv.Key.StartsWith("latency_", StringComparison.Ordinal)).OrderBy(kv => kv.Key.Length).ThenBy(kv => kv.Key))
            parts.Add($"{k[..^3]} {Format.Ms(v)} ms");
        if (m.TryGetValue(ArchitectureMetrics.Params, out var n)) parts.Add(string.Create(CultureInfo.InvariantCulture, $"params {n:N0}"));
        if (m.TryGetValue(ArchitectureMetrics.Macs, out var macs)) parts.Add(string.Create(CultureInfo.InvariantCulture, $"MACs {macs:N0}"));
        return string.Join(", ", parts);
    }
}
