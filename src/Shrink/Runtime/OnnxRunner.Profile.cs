using System.Text.Json;

namespace Shrink.Runtime;

/// <summary>Time ONNX Runtime spent in one operator type over a profiled run, per inference.</summary>
public sealed record OpTime(string OpType, int Nodes, double MsPerRun, double Share);

/// <summary>Per-operator profile of a session opened with <see cref="RunnerOptions.ProfilePrefix"/>.</summary>
public sealed partial class OnnxRunner
{
    /// <summary>
    /// Ends ONNX Runtime's profiling, reads the trace it wrote (then deletes it) and sums the kernel
    /// times per operator type, divided by <paramref name="runs"/> (the inferences that were profiled).
    /// Operator types are the ones ONNX Runtime ran, after its fusions (QLinearConv, FusedConv, …).
    /// </summary>
    public IReadOnlyList<OpTime> EndProfiling(int runs)
    {
        if (Options.ProfilePrefix is null) throw new InvalidOperationException("the session was not opened with profiling");
        var path = _session.EndProfiling();
        try { return ParseProfile(File.ReadAllText(path), runs); }
        finally { File.Delete(path); }
    }

    /// <summary>Sums the "Node" events of an ONNX Runtime trace (Chrome trace format, durations in µs) per op_name.</summary>
    internal static IReadOnlyList<OpTime> ParseProfile(string json, int runs)
    {
        var totals = new Dictionary<string, (HashSet<string> Nodes, double Us)>();
        using var doc = JsonDocument.Parse(json);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            var name = e.GetProperty("name").GetString() ?? "";
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            if (!e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var op)) continue;
            var key = (op.GetString() ?? "?") + " " + name;
            var (nodes, us) = totals.TryGetValue(key, out var t) ? t : (new HashSet<string>(), 0.0);
            nodes.Add(name);
            totals[key] = (nodes, us + e.GetProperty("dur").GetDouble());
        }
        var all = totals.Values.Sum(t => t.Us);
        return totals.OrderByDescending(kv => kv.Value.Us)
            .Select(kv => new OpTime(kv.Key, kv.Value.Nodes.Count, kv.Value.Us / 1000.0 / Math.Max(1, runs), all > 0 ? kv.Value.Us / all : 0))
            .ToArray();
    }
}
