using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Evaluation;

/// <summary>
/// How closely one output of a compressed model follows the same output of the original on the same samples
/// (what a label-free evaluation reports). With r the original's values and c the compressed model's:
/// <list type="bullet">
/// <item><see cref="Top1Agreement"/>: for a classifier output [batch, classes], the fraction of samples whose
/// argmax is the same in both (null for other outputs);</item>
/// <item><see cref="Cosine"/>: cos(r, c) of each sample's output (flattened), averaged over the samples (1 when
/// both are zero, 0 when only one is);</item>
/// <item><see cref="SqnrDb"/>: signal-to-quantization-noise ratio 10·log₁₀(Σr² / Σ(r − c)²) over every element, in
/// decibels (+∞ when the outputs are equal; every 6 dB is about one bit of precision);</item>
/// <item><see cref="MaxAbsError"/>: max |r − c| over every element.</item>
/// </list>
/// </summary>
public sealed record OutputFidelity(string Output, int Samples, double? Top1Agreement, double Cosine, double SqnrDb, double MaxAbsError)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Output}: {(Top1Agreement is { } a ? $"top-1 agreement {a:P2}, " : "")}cosine {Cosine:F4}, SQNR {Fidelity.Decibels(SqnrDb)}, max |error| {MaxAbsError:G4}";
}

/// <summary>
/// Fidelity of a compressed model to its original (<see cref="OutputFidelity"/> per output), measured in ONNX Runtime
/// on the same batches of a data source; labels are not needed.
/// </summary>
public static class Fidelity
{
    /// <summary>Each output of <paramref name="candidatePath"/> against the same output of <paramref name="referencePath"/> on <paramref name="data"/>.</summary>
    public static IReadOnlyList<OutputFidelity> Measure(string referencePath, string candidatePath, IDataSource data, RunnerOptions? runner = null,
        int batchSize = ModelEvaluation.EvaluationBatch)
    {
        using var reference = OnnxRunner.Load(referencePath, runner);
        using var candidate = OnnxRunner.Load(candidatePath, runner);
        return Measure(reference, candidate, data, batchSize);
    }

    /// <summary>Each output of <paramref name="candidate"/> against the same output of <paramref name="reference"/> on <paramref name="data"/> (in-memory models).</summary>
    public static IReadOnlyList<OutputFidelity> Measure(Model reference, Model candidate, IDataSource data, RunnerOptions? runner = null,
        int batchSize = ModelEvaluation.EvaluationBatch)
    {
        using var r = OnnxRunner.FromModel(reference, runner, "the original model");
        using var c = OnnxRunner.FromModel(candidate, runner, "the compressed model");
        return Measure(r, c, data, batchSize);
    }

    /// <summary>The fidelity of two open sessions' outputs on the same batches of <paramref name="data"/>.</summary>
    public static IReadOnlyList<OutputFidelity> Measure(OnnxRunner reference, OnnxRunner candidate, IDataSource data, int batchSize = ModelEvaluation.EvaluationBatch)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new DataException($"{data.Name} has no samples; fidelity needs at least one");
        var meter = new FidelityMeter();
        using var candidateBatches = candidate.Batches(data, batchSize, check: false).GetEnumerator();
        foreach (var (_, outputs) in reference.Batches(data, batchSize, check: false))
        {
            if (!candidateBatches.MoveNext()) break;
            meter.Add(outputs, candidateBatches.Current.Outputs);
        }
        return meter.Result();
    }

    /// <summary>A ratio in decibels as printed: "41.2 dB", or "∞ dB" for equal outputs.</summary>
    public static string Decibels(double db) => double.IsPositiveInfinity(db) ? "∞ dB" : $"{db:F1} dB";
}

/// <summary>
/// Accumulates <see cref="OutputFidelity"/> batch by batch: outputs are paired by name (by position when the names
/// differ and the counts agree), and each pair must have the same shape.
/// </summary>
public sealed class FidelityMeter
{
    private sealed class Sums
    {
        public int Samples, Agree;
        public bool Classifier = true;
        public double Cosine, Signal, Noise, MaxAbs;
    }

    private readonly List<(string Name, Sums Sums)> _outputs = new();

    /// <summary>Adds one batch: every output of the original and of the compressed model.</summary>
    /// <exception cref="DataException">The outputs do not pair up, or a pair differs in shape.</exception>
    public void Add(IReadOnlyList<HostTensor> reference, IReadOnlyList<HostTensor> candidate)
    {
        var byName = reference.All(r => candidate.Any(c => c.Name == r.Name));
        if (!byName && reference.Count != candidate.Count)
            throw new DataException($"the compressed model has outputs {string.Join(", ", candidate.Select(c => c.Name))} and the original {string.Join(", ", reference.Select(r => r.Name))}; fidelity pairs them by name");
        for (var i = 0; i < reference.Count; i++)
        {
            var r = reference[i];
            var c = byName ? candidate.First(x => x.Name == r.Name) : candidate[i];
            if (!r.Shape.SequenceEqual(c.Shape))
                throw new DataException($"output '{r.Name}' is [{string.Join(",", r.Shape)}] in the original and [{string.Join(",", c.Shape)}] in the compressed model; fidelity compares outputs of one shape");
            if (_outputs.Count <= i) _outputs.Add((r.Name, new Sums()));
            Accumulate(_outputs[i].Sums, r, c);
        }
    }

    /// <summary>The fidelity of each output over the batches added.</summary>
    public IReadOnlyList<OutputFidelity> Result() => _outputs.Select(o => new OutputFidelity(o.Name, o.Sums.Samples,
        o.Sums.Classifier && o.Sums.Samples > 0 ? (double)o.Sums.Agree / o.Sums.Samples : null,
        o.Sums.Samples == 0 ? 0 : o.Sums.Cosine / o.Sums.Samples,
        o.Sums.Noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(o.Sums.Signal / o.Sums.Noise),
        o.Sums.MaxAbs)).ToList();

    private static void Accumulate(Sums s, HostTensor reference, HostTensor candidate)
    {
        var (r, c) = (Doubles(reference), Doubles(candidate));
        var n = reference.Shape.Length == 0 ? 1 : (int)reference.Shape[0];
        var row = n == 0 ? 0 : r.Length / n;
        s.Classifier &= reference.Shape.Length == 2 && row >= 2;
        for (var i = 0; i < n; i++)
        {
            double dot = 0, rr = 0, cc = 0;
            for (var k = i * row; k < (i + 1) * row; k++)
            {
                var (a, b) = (r[k], c[k]);
                (dot, rr, cc) = (dot + a * b, rr + a * a, cc + b * b);
                s.Noise += (a - b) * (a - b);
                s.MaxAbs = Math.Max(s.MaxAbs, Math.Abs(a - b));
            }
            s.Signal += rr;
            s.Cosine += rr == 0 && cc == 0 ? 1 : rr == 0 || cc == 0 ? 0 : dot / Math.Sqrt(rr * cc);
            if (s.Classifier && ArgMax(r, i * row, row) == ArgMax(c, i * row, row)) s.Agree++;
        }
        s.Samples += n;
    }

    private static int ArgMax(double[] v, int start, int length)
    {
        var best = 0;
        for (var k = 1; k < length; k++) if (v[start + k] > v[start + best]) best = k;
        return best;
    }

    private static double[] Doubles(HostTensor t) => t.Data switch
    {
        float[] f => Array.ConvertAll(f, x => (double)x),
        double[] d => d,
        long[] l => Array.ConvertAll(l, x => (double)x),
        int[] i => Array.ConvertAll(i, x => (double)x),
        _ => throw new DataException($"output '{t.Name}' is {t.Data.GetType().GetElementType()?.Name}; fidelity compares numeric outputs"),
    };
}
