using System.Globalization;
using Shrink.Search;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink study status</c> prints of one study: trials by state, throughput, the workers alive and the best trial.</summary>
internal static class StudyStatusText
{
    public static void Render(TextWriter output, StudyStatus s, string metric)
    {
        var states = string.Join(", ", s.States.Where(kv => kv.Value > 0).Select(kv => $"{kv.Value} {kv.Key}"));
        output.WriteLine($"study {s.Study}: {s.Trials} trials ({(states.Length == 0 ? "none yet" : states)}), {s.Retried} retried, {s.LateResults} late results kept");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  throughput: {s.PerMinuteRecent:0.0} trials/min over the last 10 min, {s.PerMinuteOverall:0.0} over the study"));
        var alive = s.Workers.Where(w => w.Alive).ToList();
        output.WriteLine($"  workers alive: {alive.Count(w => w.Role == "worker")} ({alive.Where(w => w.Role == "worker").Sum(w => w.Threads)} slots), coordinators alive: {alive.Count(w => w.Role == "coordinator")}");
        foreach (var w in alive)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {w.Role} {w.Name}: Shrink {w.Version}, {w.Finished} finished, heartbeat {w.SecondsSinceHeartbeat:0} s ago"));
        output.WriteLine(s.Best is { } b
            ? string.Create(CultureInfo.InvariantCulture, $"  best: trial {b.Number + 1}, {metric} {b.Metrics[metric]:G6} ({b.Configuration.Json})")
            : $"  best: no completed trial with {metric} yet");
    }
}
