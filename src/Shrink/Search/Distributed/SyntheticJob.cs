using System.Globalization;
using System.Text;
using Shrink.Text;

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

    /// <summary>
    /// Coordinates a study of synthetic trials in <paramref name="store"/> as <paramref name="options"/> say (opened, or
    /// continued with <see cref="SyntheticStudyOptions.Resume"/>) until <paramref name="coordinator"/>'s limits stop it or
    /// <paramref name="token"/> is cancelled: random proposals, the input file put in the artifacts directory first.
    /// </summary>
    public static (Study Study, SearchSummary Summary) Coordinate(ITrialStore store, SyntheticStudyOptions options, CoordinatorOptions coordinator, CancellationToken token = default)
    {
        options.Validate();
        coordinator.Validate();
        var reference = options.Input is { } input ? new ArtifactStore(options.Artifacts!).Put(input) : null;
        var job = Job(options.Seconds, options.Artifacts, reference);
        var strategy = new RandomSearch(Space(), options.Seed);
        var study = Study.Open(store, options.Study, Space(), strategy.Settings, options.Resume, job.ToJson());
        return (study, new SearchCoordinator(study, strategy, coordinator).RunAsync(token).GetAwaiter().GetResult());
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

/// <summary>A study of synthetic trials (<see cref="SyntheticJob.Coordinate"/>): its name, the work per trial, the proposals' seed and the files its workers share.</summary>
public sealed record SyntheticStudyOptions
{
    /// <summary>The study's name.</summary>
    public string Study { get; init; } = "synthetic";

    /// <summary>Seconds of (sleeping) work per trial, 0 or more.</summary>
    public double Seconds { get; init; } = 0.5;

    /// <summary>The shared artifacts directory trials write their "models" into, or null.</summary>
    public string? Artifacts { get; init; }

    /// <summary>A file put in <see cref="Artifacts"/> that every worker verifies before its first trial, or null.</summary>
    public string? Input { get; init; }

    /// <summary>The seed of the random proposals.</summary>
    public int Seed { get; init; }

    /// <summary>Continue the study (a restarted coordinator).</summary>
    public bool Resume { get; init; }

    /// <summary>The options, refused with the reason when they cannot make a study.</summary>
    public SyntheticStudyOptions Validate()
    {
        if (Seconds < 0 || !double.IsFinite(Seconds)) throw OptionsException.For(nameof(Seconds), $"must be 0 or more, got {Seconds}");
        if (Input is not null && Artifacts is null)
            throw new OptionsException(OptionText.Of($"{OptionName.Of(nameof(Input))} needs {OptionName.Of(nameof(Artifacts))}: the file is put there for the workers to verify"));
        if (Input is not null && !File.Exists(Input)) throw OptionsException.For(nameof(Input), $"names {Path.GetFullPath(Input)}, which does not exist");
        return this;
    }
}
