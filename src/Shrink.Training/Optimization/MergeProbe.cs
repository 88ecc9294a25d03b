using System.Text.Json;
using Shrink.Ir;
using Shrink.IO;
using Shrink.Passes.Merging;
using Shrink.Techniques;

namespace Shrink.Training.Optimization;

/// <summary>
/// Before the search: which kinds of layer merging change the original, so that <c>merge</c> is searched only where it
/// does something and every trial's recipe replays bit for bit. The kinds tried follow the goal: for size, consecutive
/// layers (only where the merged layer is no larger) and near-identical weights shared; for latency, consecutive and
/// parallel layers, the parallel ones kept only when ONNX Runtime runs the merged model faster at every batch size of
/// the options (interleaved, <see cref="ParallelKeep.WhenFaster"/>); for both goals all three. The verdict is measured
/// once here and the recipes hold it as <see cref="ParallelKeep.Always"/> (a trial does not time it again, so its recipe
/// is deterministic); whether a trial with merging is faster is the trial's own measurement. Kept in
/// <c>DIR/merge-probe.json</c>, which a resume reads back, so the space is the same.
/// </summary>
internal static class MergeProbe
{
    public const string FileName = "merge-probe.json";

    /// <summary>The merging <c>merge</c> = on runs, or null when none of the goal's kinds changes <paramref name="model"/> (or merging is not searched).</summary>
    public static MergeOptions? Find(OptimizeRun run, Model model)
    {
        if (!run.Options.Uses(CompressionTechnique.Merge)) return null;
        var path = Path.Combine(run.Directory, FileName);
        var kinds = run.Options.Resume && File.Exists(path)
            ? JsonSerializer.Deserialize<List<MergeKind>>(File.ReadAllText(path), Json)!
            : Measure(run, model, path);
        return Options(kinds);
    }

    /// <summary>What <c>merge</c> = on runs given the kinds found (none: null, merging not searched); a worker's run makes it from the job's kinds.</summary>
    public static MergeOptions? Options(IReadOnlyCollection<MergeKind> kinds) =>
        kinds.Count == 0 ? null : new MergeOptions { Only = kinds.ToHashSet(), Parallel = new MergeParallelOptions { Keep = ParallelKeep.Always } };

    /// <summary>The kinds <paramref name="merging"/> runs, in order (empty for null): what <see cref="Options"/> makes it again from.</summary>
    public static List<MergeKind> KindsOf(MergeOptions? merging) => merging?.Only?.Order().ToList() ?? [];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>The kinds of <see cref="Tried"/> that merged something in <paramref name="model"/>, written to <paramref name="path"/>.</summary>
    private static List<MergeKind> Measure(OptimizeRun run, Model model, string path)
    {
        var options = new MergeOptions { Only = Tried(run.Options.Goal), Parallel = new MergeParallelOptions { Batches = run.Options.LatencyBatches } };
        var result = TechniqueRegistry.Find("merge").Run(model, options, run.Inputs, TechniqueSession.Quiet);
        var merges = result.Artifacts.OfType<LayerMerges>().SelectMany(m => m.Merges).ToList();
        var kinds = merges.Select(m => m.Kind).Distinct().Order().ToList();
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(kinds, Json));
        run.Session.Note(kinds.Count == 0
            ? $"layer merging left out of the space: the model has nothing to merge ({string.Join(", ", options.Kinds.Select(k => k.ToString().ToLowerInvariant()))}){Parallel(result.Notes)}"
            : $"layer merging searched: {string.Join(", ", kinds.Select(k => $"{k.ToString().ToLowerInvariant()} ×{merges.Count(m => m.Kind == k)}"))}");
        return kinds;
    }

    /// <summary>The kinds of merging the goal can gain from.</summary>
    internal static HashSet<MergeKind> Tried(OptimizeGoal goal) => goal switch
    {
        OptimizeGoal.Size => [MergeKind.Consecutive, MergeKind.Share],
        OptimizeGoal.Latency => [MergeKind.Consecutive, MergeKind.Parallel],
        _ => [MergeKind.Consecutive, MergeKind.Parallel, MergeKind.Share],
    };

    /// <summary>The parallel pass's note when it left merged layers alone (measured not faster), as a clause.</summary>
    private static string Parallel(IEnumerable<string> notes) =>
        notes.FirstOrDefault(n => n.StartsWith("parallel layers left alone", StringComparison.Ordinal)) is { } n ? $"; {n}" : "";
}
