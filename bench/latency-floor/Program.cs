// The latency table's two predictors (pieces timed alone; pieces timed after their predecessor) against whole networks, and the
// whole networks' own repeatability, on N candidates sampled from a space, without training (latency does not depend on the
// weights). Every model is timed as LatencyProfile times one (one session, 1 intra-op thread, 3 warm-up runs per batch, ROUNDS
// interleaved rounds of 3 runs, the median), by the wall clock and by the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID;
// with one intra-op thread ONNX Runtime computes on the calling thread, so this is the run's compute without the time the
// machine's other jobs took). The predictions are LatencyTable.Combine's and CombineInContext's; the whole networks are timed
// in two passes after the table. One tab-separated row per candidate.
// Usage: dotnet run --project bench/latency-floor -c Release -- SPACE.yaml N ROUNDS OUT_DIR SEED
using System.Globalization;
using System.Runtime.InteropServices;
using Shrink.Architecture;
using Shrink.Runtime;
using Shrink.Search;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var (spacePath, n, rounds, dir, seed) = (args[0], int.Parse(args[1]), int.Parse(args[2]), args[3], int.Parse(args[4]));
Directory.CreateDirectory(dir);
var space = ArchitectureSpace.Load(spacePath);
int[] batches = [1, 256];
var cache = new Dictionary<string, Timing>();
var pieces = 0;

var rows = new List<(double[] Predicted, string Path)>();
for (var i = 0; i < n; i++)
{
    var c = space.Space.Sample(SearchRandom.For(seed, "latency-floor", i));
    var blocks = space.Blocks(c, [1, 28, 28], 10);
    var alone = blocks.Select(b => Chain([b])).ToList();
    var overhead = Chain([LatencyBlock.Overhead]);
    var pairs = Enumerable.Range(1, blocks.Count - 1).Select(j => Chain([blocks[j - 1], blocks[j]])).ToList();
    var predicted = new List<double>();
    foreach (var cpu in new[] { false, true })
    {
        IReadOnlyDictionary<int, double> Of(Timing t) => batches.Select((b, k) => (b, k)).ToDictionary(x => x.b, x => (cpu ? t.Cpu : t.Wall)[x.k]);
        var sum = LatencyTable.Combine(alone.Select(Of).ToList(), Of(overhead));
        var inContext = LatencyTable.CombineInContext(alone.Select(Of).ToList(), pairs.Select(Of).ToList(), Of(overhead));
        foreach (var b in batches) predicted.AddRange([sum[b], inContext[b]]);
    }
    var path = Path.Combine(dir, $"candidate{i}.onnx");
    ModelSaver.Save(space.Build(c, [1, 28, 28], 10, 0), path);
    rows.Add((predicted.ToArray(), path));
    Console.Error.WriteLine($"candidate {i + 1}/{n}: {space.Summary(c)} ({cache.Count} pieces timed)");
}
var passes = Enumerable.Range(0, 2).Select(_ => rows.Select(r => Measure(r.Path)).ToList()).ToList();
Console.WriteLine("i\tw_sum1\tw_ctx1\tw_sum256\tw_ctx256\tc_sum1\tc_ctx1\tc_sum256\tc_ctx256\tAw1\tAw256\tAc1\tAc256\tBw1\tBw256\tBc1\tBc256");
for (var i = 0; i < n; i++)
    Console.WriteLine(string.Join("\t", rows[i].Predicted.Concat(passes.SelectMany(p => p[i].Wall.Concat(p[i].Cpu)))
        .Select(x => x.ToString("G5")).Prepend(i.ToString())));

Timing Chain(IReadOnlyList<LatencyBlock> chain)
{
    var key = LatencyBlock.ChainKey(chain);
    if (cache.TryGetValue(key, out var known)) return known;
    var path = Path.Combine(dir, $"piece{pieces++}.onnx");
    ModelSaver.Save(LatencyBlock.BuildChain(chain), path);
    return cache[key] = Measure(path);
}

Timing Measure(string path)
{
    using var runner = OnnxRunner.Load(path, new RunnerOptions { Threads = 1 });
    var probes = batches.Select(runner.Probe).ToList();
    try
    {
        foreach (var p in probes)
            for (var i = 0; i < 3; i++) p.Once();
        var wall = batches.Select(_ => new List<double>()).ToList();
        var cpu = batches.Select(_ => new List<double>()).ToList();
        for (var r = 0; r < rounds; r++)
            for (var k = 0; k < probes.Count; k++)
                for (var i = 0; i < 3; i++)
                {
                    var before = ThreadCpu.Milliseconds();
                    wall[k].Add(probes[k].Once());
                    cpu[k].Add(ThreadCpu.Milliseconds() - before);
                }
        return new Timing(wall.Select(Median).ToArray(), cpu.Select(Median).ToArray());
    }
    finally
    {
        foreach (var p in probes) p.Dispose();
    }
}

static double Median(List<double> x)
{
    var s = x.Order().ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
}

/// <summary>Median milliseconds per batch size, by the wall clock and by the thread's CPU time.</summary>
internal sealed record Timing(double[] Wall, double[] Cpu);

/// <summary>The calling thread's CPU time (Linux: clock_gettime(CLOCK_THREAD_CPUTIME_ID)).</summary>
internal static class ThreadCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    public static double Milliseconds()
    {
        if (ClockGetTime(3, out var t) != 0) throw new PlatformNotSupportedException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: this bench runs on Linux only");
        return t.Seconds * 1e3 + t.Nanoseconds / 1e6;
    }
}
