using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The check that a cut model computes what its masked model computes: both run in ONNX Runtime on the same seeded
/// random inputs (batch 2; dynamic axes other than the batch given 8 unless the runner options size them), and every
/// float output must agree within <see cref="HeadPruning.Tolerance"/> of the masked model's largest |output|.
/// </summary>
public static class HeadCheck
{
    /// <summary>The size given to dynamic input axes other than the batch (a sequence length, say).</summary>
    public const long DynamicSize = 8;

    /// <summary>Why the outputs differ (the output, the difference and the bound), or null when they agree.</summary>
    public static string? Compare(Model masked, Model cut, RunnerOptions runner, int seed = 0)
    {
        var options = runner with { DimValues = DimValues(masked, runner.DimValues) };
        using var a = OnnxRunner.FromModel(masked, options, "the masked model");
        using var b = OnnxRunner.FromModel(cut, options, "the cut model");
        var inputs = a.RandomInputs(2, seed);
        var (expected, actual) = (a.Run(inputs), b.Run(inputs));
        for (var i = 0; i < expected.Count; i++)
        {
            if (expected[i].Data is not float[] x || actual[i].Data is not float[] y) continue;
            if (!expected[i].Shape.SequenceEqual(actual[i].Shape))
                return $"the cut model's output '{expected[i].Name}' has shape [{string.Join(",", actual[i].Shape)}], the masked model's [{string.Join(",", expected[i].Shape)}]";
            var scale = x.Length == 0 ? 0 : x.Max(v => Math.Abs((double)v));
            var diff = x.Zip(y).Select(p => Math.Abs((double)p.First - p.Second)).DefaultIfEmpty(0).Max();
            if (!(diff <= HeadPruning.Tolerance * Math.Max(scale, 1e-12)))
                return $"its cut differs from the masked model by {diff:G3} on output '{expected[i].Name}' (more than {HeadPruning.Tolerance:G2} of its scale {scale:G3})";
        }
        return null;
    }

    /// <summary>The runner's dimension values, with every other symbolic non-batch axis of the model's inputs set to <see cref="DynamicSize"/>.</summary>
    private static IReadOnlyDictionary<string, long> DimValues(Model model, IReadOnlyDictionary<string, long> given)
    {
        var values = new Dictionary<string, long>(given);
        foreach (var input in model.Graph.Inputs.Where(v => !v.IsInitializer && v.Shape is not null))
            for (var axis = 1; axis < input.Shape!.Rank; axis++)
                if (input.Shape[axis].Param is { } symbol) values.TryAdd(symbol, DynamicSize);
        return values;
    }
}
