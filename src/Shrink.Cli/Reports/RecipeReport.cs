using Spectre.Console;
using Shrink.Recipes;
using Shrink.Techniques;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink recipe</c> and a command's <c>--dry-run</c> print.</summary>
internal static class RecipeReport
{
    /// <summary>A finished run: one row per stage, then where the final model is.</summary>
    public static void Render(CliContext cli, RecipeRunResult result, bool json)
    {
        if (json)
        {
            cli.WriteJson(new { result.Directory, result.LockPath, result.FinalModel, Stages = result.Stages.Select(s => new { s.ModelPath, s.MetricsPath, s.Skipped, s.Metrics }) });
            return;
        }
        var table = new Table().AddColumns("stage", "technique", "file", "parameters", "non-zero", "MACs/sample", "accuracy", "seconds");
        foreach (var s in result.Stages)
        {
            var m = s.Metrics;
            table.AddRow((s.Index + 1).ToString(), Markup.Escape(s.Technique), Format.Bytes(m.Bytes),
                m.Parameters.ToString("N0"), m.NonZero.ToString("N0"), Format.Macs(m.Macs, true), Markup.Escape(Measured(m)),
                s.Skipped ? "done before" : m.Seconds.ToString("F1"));
        }
        cli.Console.Write(table);
        if (result.Stages.Select(s => s.Metrics.Data).FirstOrDefault(d => d is not null) is { } data)
            cli.Out.WriteLine(result.Stages.Any(s => s.Metrics.Fidelity is not null)
                ? $"accuracy: no labels in {data}, so the first output's fidelity to the stage's input (top-1 agreement, else cosine similarity)"
                : $"accuracy: top-1 on {data} in ONNX Runtime");
        cli.Out.WriteLine($"wrote {result.Directory}: {result.Stages.Count} stage(s), lock {Path.GetFileName(result.LockPath)}; final model {result.FinalModel}");
    }

    /// <summary>A stage's figure on the test data: top-1 accuracy, or without labels the first output's agreement (or cosine) with the stage's input.</summary>
    private static string Measured(StageMetrics m) => m.Accuracy is { } a ? a.ToString("P2")
        : m.Fidelity is [var f, ..] ? f.Top1Agreement is { } agree ? $"agrees {agree:P2}" : $"cosine {f.Cosine:F4}"
        : "-";

    /// <summary>
    /// A dry run: the locked recipe as YAML on stdout (paths relative to <paramref name="outDir"/>, or to the current
    /// directory), the files each stage would write, and the reasons its first stage cannot run (then exit code 2).
    /// </summary>
    public static int DryRun(CliContext cli, RecipePlan plan, string? outDir, bool json)
    {
        var dir = outDir is null ? null : Path.GetFullPath(outDir);
        var yaml = RecipeWriter.ToYaml(plan.Locked, dir, ["dry run: what would run, every option resolved and every input hashed; nothing was written"]);
        var files = plan.Locked.Stages.Select((s, i) => $"{i + 1:D2}-{s.Technique}.onnx").ToList();
        if (json) cli.WriteJson(new { Recipe = yaml, Files = files, plan.Problems });
        else
        {
            cli.Out.Write(yaml);
            if (dir is not null) cli.Out.WriteLine($"# would write {Path.Combine(dir, RecipeLock.FileName)} and {string.Join(", ", files.Select(f => Path.Combine(dir, f)))} (each with its .json)");
        }
        foreach (var problem in plan.Problems) cli.Err.WriteLine($"error: {Text.Message.OneLine(problem)}");
        return plan.Problems.Count == 0 ? ShrinkApp.Ok : ShrinkApp.BadInput;
    }

    /// <summary>Each technique a stage can name: its id, summary and options with their defaults (as a recipe writes them).</summary>
    public static int Techniques(CliContext cli, bool json)
    {
        var rows = TechniqueRegistry.Ids.Select(TechniqueRegistry.Find)
            .Select(t => (t.Id, t.Summary, Options: OptionsYaml(t))).ToList();
        if (json)
        {
            cli.WriteJson(rows.Select(r => new { r.Id, r.Summary, r.Options }).ToList());
            return ShrinkApp.Ok;
        }
        foreach (var (id, summary, options) in rows)
        {
            cli.Out.WriteLine($"{id}: {summary}");
            foreach (var line in options.Split('\n', StringSplitOptions.RemoveEmptyEntries)) cli.Out.WriteLine($"    {line}");
        }
        return ShrinkApp.Ok;
    }

    private static string OptionsYaml(ITechnique technique) => RecipeWriter.OptionsToYaml(Activator.CreateInstance(technique.OptionsType)!);
}
