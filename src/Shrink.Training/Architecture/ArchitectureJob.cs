using System.Text.Json;
using Shrink.Architecture;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Architecture;

/// <summary>
/// The <c>search</c> kind of <see cref="TrialJob"/>: what a <c>shrink worker</c> needs to evaluate a trial of
/// <c>shrink search --role coordinator</c> exactly as the run on one machine would (<see cref="CandidateEvaluator"/>): the
/// space file and every data file (the teacher's too) kept by content in the artifacts directory (<see cref="JobInputs"/>;
/// a worker checks each hash, and the space's against the study's, before use) and the options record as JSON (the seed,
/// the epochs, the training and distillation settings, the constraints). The worker prepares the run as the coordinator did
/// (<see cref="ArchitectureSearch.Prepare"/>) and publishes each trial's folder (<see cref="JobEvaluation{T}"/>). Latency is
/// measured on the worker's machine; the latency table of one machine cannot be shared, so a coordinator measures only.
/// </summary>
public static class ArchitectureJob
{
    public const string Kind = "search";

    /// <summary>Adds the kind to <paramref name="jobs"/>.</summary>
    public static TrialJobs Register(TrialJobs jobs) =>
        jobs.Add(Kind, (study, job) => new JobEvaluation<SearchRun>(study, job, Load, run => new CandidateEvaluator(run).Evaluate).Evaluate);

    /// <summary>The job of a search of <paramref name="space"/> (a file) on <paramref name="data"/>, its inputs kept in <paramref name="artifacts"/>.</summary>
    internal static TrialJob Job(ArchitectureSpace space, RecipeData data, ArchitectureSearchOptions options, ArtifactStore artifacts)
    {
        var shipped = options with { Storage = null, StudyName = null, Role = SearchRole.Both, Artifacts = null, Resume = false, Workers = 1, References = [] };
        return TrialJob.Of(Kind, new Dictionary<string, string>
        {
            ["artifacts"] = artifacts.Directory, ["space"] = artifacts.Put(space.Source),
            ["data"] = JsonSerializer.Serialize(JobInputs.Ship(data, artifacts), JobContext.Json), ["options"] = JsonSerializer.Serialize(shipped, JobContext.Json),
        });
    }

    private static SearchRun Load(JobContext job)
    {
        var space = ArchitectureSpace.Load(job.Input("space"));
        if (space.Space.Hash != job.Study.SpaceHash)
            throw new TrialStoreException($"the space file of study '{job.Study.Name}' does not give the study's space; this worker's Shrink reads it otherwise: run the coordinator's version");
        var options = job.Read<ArchitectureSearchOptions>("options").Validate();
        return ArchitectureSearch.Prepare(space, job.Data("data"), options, job.Scratch, new TechniqueSession());
    }
}
