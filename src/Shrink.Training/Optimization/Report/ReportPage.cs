using Shrink.IO;

namespace Shrink.Training.Optimization;

/// <summary>
/// The report of an optimize run: <c>DIR/report.json</c> (<see cref="RunReport"/>) and <c>DIR/report.html</c>, one
/// self-contained page with the plots embedded (<see cref="ReportHtml"/>), each replaced atomically. <see cref="Optimizer.Run"/>
/// rewrites both after every trial and at the end; <see cref="Write(string)"/> rewrites them from a run directory's
/// <c>result.json</c> (after a crash, or with a newer Shrink).
/// </summary>
public static class ReportPage
{
    public const string JsonFile = "report.json", HtmlFile = "report.html";

    /// <summary>Writes the report of <paramref name="result"/> into <paramref name="directory"/> (the run directory its trial models are relative to) and returns it.</summary>
    public static RunReport Write(OptimizeResult result, string directory) => new ReportWriter().Write(result, directory);

    /// <summary>
    /// Rewrites the report of the run in <paramref name="directory"/> from its <c>result.json</c>; an
    /// <see cref="OptionsException"/> when the directory holds no optimize run, also when its result cannot be read.
    /// </summary>
    public static RunReport Write(string directory)
    {
        directory = Path.GetFullPath(directory);
        var path = Path.Combine(directory, RunFiles.ResultFile);
        if (!File.Exists(path))
            throw new OptionsException($"{directory} holds no optimize run (no {RunFiles.ResultFile}); give the run directory of an optimize run that finished a trial");
        OptimizeResult result;
        try { result = OptimizeResult.FromJson(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e)
        {
            throw new OptionsException($"{path} is not an optimize result ({Text.Message.OneLine(e.Message)}); rerun the optimize run with resume to rewrite it");
        }
        return Write(result, directory);
    }
}

/// <summary>Writes a run's report, keeping what it read of the models between calls (<see cref="RunFiles"/> holds one per run).</summary>
internal sealed class ReportWriter
{
    private readonly RunReportBuilder _builder = new();

    public RunReport Write(OptimizeResult result, string directory)
    {
        var report = _builder.Build(result, directory);
        var images = new ReportImages(ReportPlots.Trials(report),
            ReportPlots.Front(report.SizeFront, TrialMetrics.Bytes, result.MinFidelity is not null, "Accuracy against size"),
            ReportPlots.Front(report.LatencyFront, TrialMetrics.Latency, result.MinFidelity is not null, "Accuracy against latency (largest batch)"),
            ReportPlots.Layers(report.Layers), ReportPlots.Training(report.Training));
        AtomicFile.WriteAllText(Path.Combine(directory, ReportPage.JsonFile), report.ToJson());
        AtomicFile.WriteAllText(Path.Combine(directory, ReportPage.HtmlFile), ReportHtml.Render(report, images));
        return report;
    }
}
