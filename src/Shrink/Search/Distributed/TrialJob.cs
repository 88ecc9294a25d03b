using System.Reflection;
using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// What a worker on another machine needs to evaluate a study's trials, written by its coordinator into the study
/// (<see cref="StudyInfo.Job"/>): the kind of evaluation (<c>synthetic</c>, <c>optimize</c>, …; a worker serves the kinds of
/// its <see cref="TrialJobs"/>), the Shrink version of the coordinator (a worker of another version is refused: a trial
/// must mean the same on every machine) and the kind's parameters (paths on the shared artifacts directory, hashes).
/// </summary>
public sealed record TrialJob(string Kind, string Version, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>A job of this Shrink's version.</summary>
    public static TrialJob Of(string kind, IReadOnlyDictionary<string, string> parameters) => new(kind, ShrinkVersion.Current, parameters);

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["kind"] = Kind, ["version"] = Version, ["parameters"] = new SortedDictionary<string, string>(Parameters.ToDictionary(), StringComparer.Ordinal),
    });

    /// <summary>The job of <paramref name="study"/>, or null when it has none (a study run on one machine) or one this Shrink cannot read.</summary>
    public static TrialJob? Of(StudyInfo study)
    {
        if (study.Job is null) return null;
        try
        {
            using var doc = JsonDocument.Parse(study.Job);
            var root = doc.RootElement;
            var parameters = root.GetProperty("parameters").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            return new TrialJob(root.GetProperty("kind").GetString() ?? "", root.GetProperty("version").GetString() ?? "", parameters);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The parameter <paramref name="name"/>, or a <see cref="TrialStoreException"/> naming the study.</summary>
    public string Get(string name, string study) => Parameters.TryGetValue(name, out var v) ? v
        : throw new TrialStoreException($"the job of study '{study}' has no '{name}'; its coordinator wrote an incomplete job: restart it with --resume");
}

/// <summary>The version of this Shrink (the assembly's informational version), as jobs and workers record it.</summary>
public static class ShrinkVersion
{
    public static string Current { get; } =
        typeof(ShrinkVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(ShrinkVersion).Assembly.GetName().Version?.ToString() ?? "unknown";
}

/// <summary>The evaluation of one trial: what <see cref="SearchRunner"/> and <see cref="TrialWorker"/> call.</summary>
public delegate Task<TrialResult> TrialEvaluation(Configuration configuration, TrialContext context, CancellationToken cancellation);

/// <summary>
/// The kinds of job a worker serves: each kind's factory turns a study's job into its evaluation (once per study and
/// worker: it may load data and check artifacts). Kinds are registered by name, never found by reflection.
/// </summary>
public sealed class TrialJobs
{
    private readonly Dictionary<string, Func<StudyInfo, TrialJob, TrialEvaluation>> _kinds = new(StringComparer.Ordinal);

    /// <summary>Adds (or replaces) kind <paramref name="kind"/>.</summary>
    public TrialJobs Add(string kind, Func<StudyInfo, TrialJob, TrialEvaluation> factory)
    {
        _kinds[kind] = factory ?? throw new ArgumentNullException(nameof(factory));
        return this;
    }

    public bool Knows(string kind) => _kinds.ContainsKey(kind);

    public IEnumerable<string> Kinds => _kinds.Keys.Order(StringComparer.Ordinal);

    /// <summary>The evaluation of <paramref name="study"/>'s trials.</summary>
    public TrialEvaluation For(StudyInfo study, TrialJob job) => _kinds.TryGetValue(job.Kind, out var make) ? make(study, job)
        : throw new TrialStoreException($"study '{study.Name}' is a '{job.Kind}' job, which this worker does not run (it runs {string.Join(", ", Kinds)})");
}
