using System.Text.Json;
using Shrink.Recipes;

namespace Shrink.Search;

/// <summary>
/// What a worker's job kind reads a study's job with (<see cref="JobEvaluation{T}"/>): the job, the shared artifacts directory
/// (reached), and a scratch run directory of this worker's own for the study, where trials write their files.
/// </summary>
public sealed record JobContext(StudyInfo Study, TrialJob Job, ArtifactStore Artifacts, string Scratch)
{
    /// <summary>How job parameters that hold options records and data sections are written and read.</summary>
    public static readonly JsonSerializerOptions Json = new();

    /// <summary>A job parameter as JSON (an options record), or a <see cref="TrialStoreException"/> naming it.</summary>
    public T Read<T>(string name)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(Job.Get(name, Study.Name), Json) ?? throw new JsonException("it is null");
        }
        catch (JsonException e)
        {
            throw new TrialStoreException($"the job of study '{Study.Name}' holds a '{name}' this worker cannot read ({e.Message}); run the coordinator's Shrink version");
        }
    }

    /// <summary>The path on this machine of the input file the job names by <paramref name="name"/> (a model shipped with its data: in its tree), its hash checked.</summary>
    public string Input(string name) => Artifacts.OpenPath(Job.Get(name, Study.Name), Path.Combine(Scratch, "inputs"));

    /// <summary>The data section the job names by <paramref name="name"/> (<see cref="JobInputs.Ship"/>), with paths on this machine.</summary>
    public RecipeData Data(string name) => JobInputs.Fetch(Read<RecipeData>(name), Artifacts, Path.Combine(Scratch, "inputs"));
}

/// <summary>
/// A job kind's evaluation on a worker, the same for every kind whose trials write a run directory's <c>trials/NNNN/</c>:
/// what the study's trials share is loaded once, on the first trial (<c>load</c>: the inputs fetched and their hashes checked);
/// while that fails (the artifacts directory out of reach, a damaged file) each trial fails with the reason and the next
/// one tries again. Each trial runs in the scratch run directory, then its folder is published to the artifacts directory
/// (<see cref="TrialFiles.Publish"/>) and removed from the scratch; the scratch (fetched inputs) is removed when the process exits.
/// </summary>
public sealed class JobEvaluation<T>(StudyInfo study, TrialJob job, Func<JobContext, T> load, Func<T, TrialEvaluation> evaluation) where T : class
{
    private readonly Lock _lock = new();
    private (TrialEvaluation Evaluate, JobContext Context)? _loaded;

    /// <summary>The <see cref="TrialEvaluation"/> of the study.</summary>
    public async Task<TrialResult> Evaluate(Configuration c, TrialContext context, CancellationToken token)
    {
        var (evaluate, job) = Load();
        var result = await evaluate(c, context, token).ConfigureAwait(false);
        if (result.ModelPath is null || TrialFiles.IsReference(result.ModelPath)) return result;
        var folder = Path.GetDirectoryName(Path.Combine(job.Scratch, result.ModelPath))!;
        try
        {
            return TrialFiles.Publish(result, job.Scratch, job.Artifacts);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    private static void Remove(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }   // what is left is the system's temporary files
        catch (UnauthorizedAccessException) { }
    }

    private (TrialEvaluation, JobContext) Load()
    {
        lock (_lock)
        {
            if (_loaded is { } loaded) return loaded;
            var artifacts = JobInputs.Reach(job.Get("artifacts", study.Name), study.Name);
            var scratch = Path.Combine(Path.GetTempPath(), "shrink-worker", $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..20], $"{job.Kind}-{study.Id}");
            Directory.CreateDirectory(scratch);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Remove(Path.GetDirectoryName(scratch)!);
            var context = new JobContext(study, job, artifacts, scratch);
            _loaded = (evaluation(load(context)), context);
            return _loaded.Value;
        }
    }
}
