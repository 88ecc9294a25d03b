using System.Text.Json;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Optimization;

/// <summary>
/// The <c>optimize</c> kind of <see cref="TrialJob"/>: what a <c>shrink worker</c> needs to evaluate a trial of
/// <c>shrink optimize --role coordinator</c> exactly as the run on one machine would (<see cref="TrialEvaluator"/>). The
/// coordinator writes into the study: the artifacts directory; the original model and every data file, kept there by content
/// (<see cref="JobInputs"/>: a worker checks each hash before use); the options record as JSON (the seed, the budget, the
/// resamples, the successive-halving rungs: the run's own, not its command line); and what the coordinator measured once
/// for every trial: the layers kept in float and the kinds of merging <c>merge</c> = on runs (<see cref="MergeProbe"/>). The
/// worker loads the run as the coordinator did (<see cref="OptimizeRun.Load"/>) and publishes each trial's folder
/// (<see cref="JobEvaluation{T}"/>). A model with external data travels with its data files (<see cref="JobInputs.ShipModel"/>).
/// </summary>
public static class OptimizeJob
{
    public const string Kind = "optimize";

    /// <summary>Adds the kind to <paramref name="jobs"/>.</summary>
    public static TrialJobs Register(TrialJobs jobs) =>
        jobs.Add(Kind, (study, job) => new JobEvaluation<OptimizeRun>(study, job, Load, run => new TrialEvaluator(run).Evaluate).Evaluate);

    /// <summary>The job of <paramref name="run"/> on <paramref name="data"/> (as given, before the teacher defaults to the model), its inputs kept in <paramref name="artifacts"/>.</summary>
    internal static TrialJob Job(OptimizeRun run, RecipeData data, ArtifactStore artifacts)
    {
        var options = run.Options with { Storage = null, StudyName = null, Role = SearchRole.Both, Artifacts = null, Resume = false, Workers = 1, Threads = 0 };
        return TrialJob.Of(Kind, new Dictionary<string, string>
        {
            ["artifacts"] = artifacts.Directory, ["model"] = JobInputs.ShipModel(run.OriginalPath, artifacts),
            ["data"] = JsonSerializer.Serialize(JobInputs.Ship(data, artifacts), JobContext.Json), ["options"] = JsonSerializer.Serialize(options, JobContext.Json),
            ["float_layers"] = JsonSerializer.Serialize(run.FloatLayers.Order(StringComparer.Ordinal), JobContext.Json),
            ["merging"] = JsonSerializer.Serialize(MergeProbe.KindsOf(run.Merging), JobContext.Json),
        });
    }

    private static OptimizeRun Load(JobContext job)
    {
        var model = RecipeModel.File(job.Input("model"));
        var data = job.Data("data");
        var run = OptimizeRun.Load(model, data, job.Read<OptimizeOptions>("options").Validate(), job.Scratch, new TechniqueSession());
        run.FloatLayers = job.Read<List<string>>("float_layers").ToHashSet(StringComparer.Ordinal);
        run.Merging = MergeProbe.Options(job.Read<List<Passes.Merging.MergeKind>>("merging"));
        return run;
    }
}
