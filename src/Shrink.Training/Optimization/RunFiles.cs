using Shrink.IO;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Search;

namespace Shrink.Training.Optimization;

/// <summary>
/// The files of an optimize run directory that are true at every moment, each replaced atomically (written beside, then
/// renamed) after every finished trial: <c>best.onnx</c> (the chosen trial's model, loaded in ONNX Runtime before the
/// rename), <c>best.recipe.yaml</c> (its recipe), <c>pareto.json</c>, <c>result.json</c> (<see cref="OptimizeResult"/>), and
/// the report, <c>report.json</c> and <c>report.html</c> (<see cref="ReportPage"/>).
/// </summary>
internal sealed class RunFiles(OptimizeRun run)
{
    public const string BestParts = "best.parts";
    public const string BestModel = "best.onnx", BestRecipe = "best.recipe.yaml", ParetoFile = "pareto.json", ResultFile = "result.json", OptionsFile = "options.json";
    private string? _written;
    private readonly ReportWriter _report = new();

    public string Path(string name) => System.IO.Path.Combine(run.Directory, name);

    /// <summary>
    /// The result of <paramref name="trials"/> so far; writes the best model and recipe when the best trial changed, then the
    /// fronts and result. Only trials at the full budget are chosen or on the fronts (successive halving's smaller budgets
    /// are measured on fewer samples); every trial is listed.
    /// </summary>
    public OptimizeResult Update(IReadOnlyList<Trial> trials, BaselineFigures baseline, string stop = "running", FinalEvaluation? final = null, SplitOutcome? parts = null)
    {
        var objective = run.Objective;
        var full = trials.Where(t => t.Budget >= 1).ToList();
        var best = objective.Best(full);
        if (best?.ModelPath is { } model && best.Hash != _written)
        {
            WriteBest(System.IO.Path.Combine(run.Directory, model), best);
            _written = best.Hash;
        }
        var result = Result(trials, Fronts(full, objective), baseline, objective, best) with { Stop = stop, Final = final, Parts = parts };
        AtomicFile.WriteAllText(Path(ParetoFile), System.Text.Json.JsonSerializer.Serialize(result.Pareto, OptimizeResult.Json));
        AtomicFile.WriteAllText(Path(ResultFile), result.ToJson());
        _report.Write(result, run.Directory);
        return result;
    }

    /// <summary>
    /// Cuts <c>best.onnx</c> as the <c>split</c> technique does into <c>best.parts/</c>: written into a fresh directory beside
    /// it (every part loaded in ONNX Runtime as it is staged, <see cref="SplitWriter"/>), then moved into place, replacing
    /// the parts of an earlier end. A bound the model cannot be cut under (a layer larger than it) writes nothing and is
    /// the outcome's error.
    /// </summary>
    public SplitOutcome Split(Passes.Deployment.SplitOptions options)
    {
        var model = Onnx.OnnxReader.Read(Path(BestModel));
        Passes.Deployment.SplitPlan plan;
        try { plan = new Passes.Deployment.SplitPass(options).Plan(model); }
        catch (OptionsException e) { return new SplitOutcome(null, 0, 0, "not split", run.Session.Naming is { } naming ? e.Wording.Render(naming) : e.Message); }
        var (target, fresh) = (Path(BestParts), Path($".{BestParts}.{Environment.ProcessId}.tmp"));
        if (Directory.Exists(fresh)) Directory.Delete(fresh, recursive: true);
        try
        {
            Directory.CreateDirectory(fresh);
            Runtime.Split.SplitWriter.Write(model, plan, fresh, Path(BestModel));
            var check = Check(model, System.IO.Path.Combine(fresh, Runtime.Split.SplitManifest.FileName), options.Batch);
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.Move(fresh, target);
            return new SplitOutcome(target, plan.Parts.Count, plan.Parts.Max(p => p.WeightBytes), $"{Passes.Deployment.SplitTechnique.Describe(plan)}; {check}");
        }
        finally
        {
            if (Directory.Exists(fresh)) Directory.Delete(fresh, recursive: true);   // a failed split leaves no half-written parts
        }
    }

    /// <summary>The parts run one after another against the whole model on seeded random inputs (<see cref="Runtime.Split.SplitCheck"/>), in words.</summary>
    private static string Check(Ir.Model whole, string manifest, int batch)
    {
        try
        {
            var c = Runtime.Split.SplitCheck.Compare(whole, manifest, batch);
            return c.Identical ? $"the parts' outputs equal best.onnx's bit for bit ({c.Values:N0} values, random inputs at batch {c.Batch})"
                : $"{c.Differing:N0} of {c.Values:N0} output values differ from best.onnx's, by at most {c.MaxAbsDifference:G3}";
        }
        catch (OptionsException e) { return $"not checked against best.onnx: {e.Message}"; }
    }

    private void WriteBest(string model, Trial best)
    {
        // Read and written again, not copied: a trial's model may keep its weights in external data beside it.
        var m = Onnx.OnnxReader.Read(model);
        ModelSaver.Save(m, Path(BestModel), new Onnx.OnnxWriteOptions { ExternalData = Onnx.OnnxWriteOptions.UsesExternalData(m) });
        RecipeWriter.Write(run.RecipeOf(best.Configuration), Path(BestRecipe),
            header: [$"shrink optimize: trial {best.Number + 1} of {run.Directory} ({CompressionSpace.Summary(best.Configuration)})"]);
    }

    private OptimizeResult Result(IReadOnlyList<Trial> trials, ParetoFronts fronts, BaselineFigures baseline, Objective objective, Trial? best)
    {
        var excess = best?.Metrics.GetValueOrDefault(TrialMetrics.Excess, double.PositiveInfinity);
        var met = best is not null && objective.IsFeasible(best);
        return new OptimizeResult
        {
            Model = run.OriginalPath, Directory = run.Directory, Goal = run.Options.Goal, Budget = run.Options.BudgetText,
            MaxAccuracyDrop = run.Options.MaxAccuracyDrop, MinFidelity = run.Options.MinFidelity, Strict = run.Options.Strict, Baseline = baseline,
            Best = best is null ? null : TrialSummary.Of(best, objective), Met = met, Miss = best is null || met ? null : Math.Max(0, excess ?? 0),
            MissReasons = best is null || met ? [] : Reasons(best),
            Trials = trials.Select(t => TrialSummary.Of(t, objective)).ToList(), Pareto = fronts,
            Budgets = run.Options.Strategy == OptimizeStrategy.Halving ? run.Options.HalvingBudgets : null,
        };
    }

    /// <summary>Why <paramref name="best"/> is outside the budget, in words.</summary>
    private List<string> Reasons(Trial best)
    {
        var (m, o, reasons) = (best.Metrics, run.Options, new List<string>());
        var i = System.Globalization.CultureInfo.InvariantCulture;
        if (m.GetValueOrDefault(TrialMetrics.Excess, double.PositiveInfinity) > 0)
            reasons.Add(o.ByFidelity
                ? string.Format(i, "fidelity {0:F4}{1} is under {2:G}", o.Strict ? m[TrialMetrics.FidelityLow] : m[TrialMetrics.Fidelity], o.Strict ? " (the 95 % interval's low end)" : "", o.MinFidelity)
                : string.Format(i, "a drop of {0:F2} points{1} is over the budget of {2:G}", o.Strict ? m[TrialMetrics.DropHigh] : m[TrialMetrics.Drop], o.Strict ? " (the 95 % interval's high end)" : "", o.MaxAccuracyDrop));
        if (o.Goal == OptimizeGoal.Latency && m.GetValueOrDefault(TrialMetrics.NotFaster) > 0)
        {
            reasons.Add(string.Format(i, "not measured faster than the original at {0} of the {1} batch sizes", m[TrialMetrics.NotFaster], o.LatencyBatches.Count));
            if (RejectionReasons.HalfCompute(best.Configuration.Values.ToDictionary(v => v.Key, v => v.Value)) is { } why) reasons.Add(why);
        }
        return reasons;
    }

    /// <summary>The non-dominated completed trials of (accuracy loss, bytes) and of (accuracy loss, latency).</summary>
    private ParetoFronts Fronts(IReadOnlyList<Trial> trials, Objective objective)
    {
        var done = trials.Where(t => t.Status == TrialStatus.Completed && t.Metrics.ContainsKey(TrialMetrics.Excess)).ToList();
        double Loss(Trial t) => run.Options.ByFidelity ? -t.Metrics[TrialMetrics.Fidelity] : t.Metrics[TrialMetrics.Drop];
        ParetoPoint Point(Trial t) => new(t.Number, t.Metrics.TryGetValue(TrialMetrics.Drop, out var d) ? d : null,
            t.Metrics.TryGetValue(TrialMetrics.Fidelity, out var f) ? f : null, t.Metrics[TrialMetrics.Bytes], t.Metrics[TrialMetrics.Latency], objective.IsFeasible(t));
        IReadOnlyList<ParetoPoint> Front(string metric) =>
            Pareto.Sort(done.Select(t => new[] { Loss(t), t.Metrics[metric] }).ToList()).FirstOrDefault()?.Order().Select(i => Point(done[i])).ToList() ?? [];
        return new ParetoFronts(Front(TrialMetrics.Bytes), Front(TrialMetrics.Latency));
    }
}
