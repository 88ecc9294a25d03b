using System.Text.Json;
using Shrink.Ir;
using Shrink.IO;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Training.Optimization;

/// <summary>
/// For the latency goals: which layers' int8 kernels are slower than their float ones on this machine. Each layer is
/// quantized alone (static int8, every other layer float) and timed against the original in ONNX Runtime, interleaved,
/// at each of the options' batch sizes (<see cref="LatencyComparison"/>); a layer measured slower at any of them stays
/// float in every trial. Kept in <c>DIR/layer-latency.json</c>, which a resume reads back, so the space is the same.
/// </summary>
internal static class LayerLatency
{
    public const string FileName = "layer-latency.json";

    /// <summary>The layers to keep in float (empty for the size goal), measured or read back.</summary>
    public static IReadOnlySet<string> SlowerInInt8(OptimizeRun run, Model model, IReadOnlyList<string> layers, TechniqueInputs inputs)
    {
        if (run.Options.Goal == OptimizeGoal.Size) return new HashSet<string>();
        var path = Path.Combine(run.Directory, FileName);
        if (run.Options.Resume && File.Exists(path)) return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))!
            .Where(kv => kv.Value == "slower").Select(kv => kv.Key).ToHashSet();
        using var original = OnnxRunner.FromModel(model, null, "the original model");
        var verdicts = layers.ToDictionary(l => l, l => Verdict(original, model, l, layers, inputs, run.Options.LatencyBatches));
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(verdicts, new JsonSerializerOptions { WriteIndented = true }));
        foreach (var (layer, verdict) in verdicts.Where(kv => kv.Value == "slower")) run.Session.Note($"layer '{layer}' is slower in int8 than in float here; it stays float");
        return verdicts.Where(kv => kv.Value == "slower").Select(kv => kv.Key).ToHashSet();
    }

    /// <summary>"slower" when the model with only <paramref name="layer"/> in int8 is measured slower at some batch size, else "not slower" (or "not quantized": the layer refused).</summary>
    private static string Verdict(OnnxRunner original, Model model, string layer, IReadOnlyList<string> layers, TechniqueInputs inputs, IReadOnlyList<int> batches)
    {
        var options = new QuantizeOptions
        {
            Mode = QuantizeMode.Static, PerChannel = true, CalibrationSamples = 128,
            Layers = layers.ToDictionary(l => l, l => l == layer ? WeightPrecision.Int8 : WeightPrecision.Float),
        };
        Model quantized;
        try { quantized = TechniqueRegistry.Find("quantize").Run(model, options, inputs, TechniqueSession.Quiet).Model; }
        catch (ShrinkUserException) { return "not quantized"; }
        using var candidate = OnnxRunner.FromModel(quantized, null, $"'{layer}' in int8");
        var rows = LatencyComparison.Compare(original, candidate, batches, warmup: 5, rounds: 6, runsPerRound: 3);
        return rows.Any(r => r.Verdict == LatencyVerdict.Slower) ? "slower" : "not slower";
    }
}
