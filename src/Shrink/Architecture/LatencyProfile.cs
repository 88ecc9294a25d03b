using System.Runtime.InteropServices;
using Shrink.Runtime;

namespace Shrink.Architecture;

/// <summary>The machine a latency was measured on: its CPU model and the ONNX Runtime threads used (latency does not transfer between machines).</summary>
public sealed record MachineInfo(string Cpu, int Threads, int Cores)
{
    /// <summary>This machine, measured with <paramref name="threads"/> intra-op threads.</summary>
    public static MachineInfo Here(int threads) => new(CpuModel(), threads, Environment.ProcessorCount);

    /// <summary>The CPU's model name (Linux: <c>/proc/cpuinfo</c>), else the processor architecture.</summary>
    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is > 0 and var i) return line[(i + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}

/// <summary>
/// ONNX Runtime latency of one model at several batch sizes, measured the way <see cref="LatencyComparison"/> measures two
/// models: one session with a fixed thread count, every batch size warmed up, then timed in interleaved rounds (a few runs
/// at each batch size in turn, repeated), so a machine that slows down during the measurement affects every batch size
/// alike. The figure is the median of the runs (<see cref="LatencyQuartiles"/> keeps the quartiles beside it).
/// </summary>
public static class LatencyProfile
{
    /// <summary>The quartiles at each of <paramref name="batches"/> of the model at <paramref name="path"/>, with <paramref name="threads"/> intra-op threads.</summary>
    public static IReadOnlyDictionary<int, LatencyQuartiles> Measure(string path, IReadOnlyList<int> batches, int threads,
        int warmup = 3, int rounds = 8, int runsPerRound = 3)
    {
        if (batches.Count == 0 || batches.Any(b => b < 1)) throw new ArgumentException("give batch sizes of at least 1", nameof(batches));
        using var runner = OnnxRunner.Load(path, new RunnerOptions { Threads = threads });
        var probes = batches.Distinct().Select(runner.Probe).ToList();
        try
        {
            foreach (var p in probes)
                for (var i = 0; i < warmup; i++) p.Once();
            var times = probes.Select(_ => new List<double>()).ToList();
            for (var r = 0; r < rounds; r++)
                for (var k = 0; k < probes.Count; k++)
                    for (var i = 0; i < runsPerRound; i++) times[k].Add(probes[k].Once());
            return batches.Distinct().Select((b, k) => (b, k)).ToDictionary(x => x.b, x => LatencyQuartiles.Of(times[x.k]));
        }
        finally
        {
            foreach (var p in probes) p.Dispose();
        }
    }
}
