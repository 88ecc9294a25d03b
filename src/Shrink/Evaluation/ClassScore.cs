using Shrink.Runtime;

namespace Shrink.Evaluation;

/// <summary>
/// Top-1 and top-5 hits and summed cross-entropy of classifier outputs [batch, classes] against labels, added
/// batch by batch. Top-1 takes the first of equal maxima (as argmax does); top-5 is top-k with k the smaller of 5
/// and the classes, a label counting when fewer than k logits are strictly higher than its own.
/// </summary>
internal sealed class ClassScore
{
    public int Samples { get; private set; }
    public int Top1 { get; private set; }
    public int Top5 { get; private set; }
    public double LossSum { get; private set; }

    /// <summary>Adds one batch: <paramref name="output"/> is the model's [batch, classes] float output.</summary>
    /// <exception cref="DataException">The output is not [batch, classes] of float32, or a label is not a class of it.</exception>
    public void Add(HostTensor output, int[] labels, string source)
    {
        if (output.Shape.Length != 2 || output.Shape[0] != labels.Length || output.Data is not float[] logits)
            throw new DataException($"'{source}' output '{output.Name}' has shape [{string.Join(",", output.Shape)}]; accuracy needs float32 [batch, classes]");
        var classes = (int)output.Shape[1];
        for (var i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new DataException($"label {labels[i]} is not one of the {classes} classes of '{source}' output '{output.Name}'; give labels in [0, {classes})");
            var row = logits.AsSpan(i * classes, classes);
            if (ArgMax(row) == labels[i]) Top1++;
            if (Higher(row, row[labels[i]]) < Math.Min(5, classes)) Top5++;
            LossSum += LogSumExp(row) - row[labels[i]];
        }
        Samples += labels.Length;
    }

    /// <summary>The index of the first maximum.</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var k = 1; k < row.Length; k++) if (row[k] > row[best]) best = k;
        return best;
    }

    private static int Higher(ReadOnlySpan<float> row, float value)
    {
        var n = 0;
        foreach (var x in row) if (x > value) n++;
        return n;
    }

    private static double LogSumExp(ReadOnlySpan<float> row)
    {
        double max = row[ArgMax(row)], sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return max + Math.Log(sum);
    }
}
