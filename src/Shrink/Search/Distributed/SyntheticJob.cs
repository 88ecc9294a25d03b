using System.Globalization;
using System.Text;

namespace Shrink.Search;

/// <summary>
/// A job of synthetic trials, for measuring what a store and its workers cost (<c>bench/distributed.sh</c>) and for
/// testing them: each trial waits <c>seconds</c> × its budget (work that takes wall time and no CPU, so the bookkeeping
/// is what is measured), then reports <c>loss</c>, a fixed function of its configuration's hash in [0, 1). With an
/// <c>input</c> artifact, every worker checks its hash before the first trial; with an artifacts directory, each trial
/// writes its configuration there as its "model" and records the reference.
/// </summary>
public static class SyntheticJob
{
    public const string Kind = "synthetic";

    /// <summary>The space of synthetic studies: one integer, so any number of distinct trials.</summary>
    public static SearchSpace Space() => new(Parameter.Int("x", 0, 1_000_000_000));

    /// <summary>The job: <paramref name="seconds"/> per trial, an optional input artifact that workers verify, and the artifacts directory.</summary>
    public static TrialJob Job(double seconds, string? artifacts = null, string? input = null)
    {
        var parameters = new Dictionary<string, string> { ["seconds"] = seconds.ToString("R", CultureInfo.InvariantCulture) };
        if (artifacts is not null) parameters["artifacts"] = Path.GetFullPath(artifacts);
        if (input is not null) parameters["input"] = input;
        return TrialJob.Of(Kind, parameters);
    }

    /// <summary>The loss every worker computes for <paramref name="c"/>.</summary>
    public static double Loss(Configuration c) => Convert.ToUInt32(c.Hash[..8], 16) / 4294967296.0;

    /// <summary>Adds the kind to <paramref name="jobs"/>.</summary>
    public static TrialJobs Register(TrialJobs jobs) => jobs.Add(Kind, Evaluation);

    private static TrialEvaluation Evaluation(StudyInfo study, TrialJob job)
    {
        var seconds = double.Parse(job.Get("seconds", study.Name), CultureInfo.InvariantCulture);
        var artifacts = job.Parameters.TryGetValue("artifacts", out var dir) ? new ArtifactStore(dir) : null;
        if (job.Parameters.TryGetValue("input", out var input))
            (artifacts ?? throw new TrialStoreException($"the job of study '{study.Name}' names an input artifact and no artifacts directory")).Open(input);
        return async (c, context, token) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds * context.Budget), token).ConfigureAwait(false);
            var model = artifacts?.Put(Encoding.UTF8.GetBytes(c.Json), ".json");
            return TrialResult.Completed(new Dictionary<string, double> { ["loss"] = Loss(c) }, model);
        };
    }
}
