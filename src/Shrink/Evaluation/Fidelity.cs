using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Text;

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
    /// <summary>
    /// The standard deviation of the per-sample cosines whose mean is <see cref="Cosine"/> (0 under two samples), for a
    /// confidence bound on it: <see cref="CosineLowerBound"/>. Not written in reports.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double CosineStdDev { get; init; }

    /// <summary>
    /// A one-sided lower bound, z standard errors under <see cref="Cosine"/> (normal approximation of a mean; z 1.645 is
    /// 95 %): with <paramref name="otherSamples"/> null, of the mean cosine over inputs like these samples
    /// (σ / √n, a confidence bound); with m other samples, of the mean those m would measure (σ · √(1/n + 1/m), a
    /// prediction bound: the figure a second set of m samples is above 19 times in 20 at z 1.645). σ: <see cref="CosineStdDev"/>.
    /// </summary>
    public double CosineLowerBound(double z, int? otherSamples = null) => Samples < 2 ? Cosine
        : Cosine - z * CosineStdDev * Math.Sqrt(1.0 / Samples + (otherSamples is { } m && m > 0 ? 1.0 / m : 0));

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Output}: {(Top1Agreement is { } a ? $"top-1 agreement {a:P2}, " : "")}cosine {Cosine:F4}, SQNR {Fidelity.Decibels(SqnrDb)}, max |error| {MaxAbsError:G4}";
}

/// <summary>A result's fidelity to its input model: each output's figures and the data they were measured on (its name).</summary>
public sealed record FidelityMeasurement(string Data, IReadOnlyList<OutputFidelity> Outputs);

/// <summary>
/// Fidelity of a compressed model to its original (<see cref="OutputFidelity"/> per output), measured in ONNX Runtime
/// on the same batches of a data source; labels are not needed.
/// </summary>
public static class Fidelity
{
    /// <summary>
    /// Each output of <paramref name="candidatePath"/> against the same output of <paramref name="referencePath"/> on <paramref name="data"/>,
    /// one session at a time where the reference's outputs fit <see cref="KeptOutputBytes"/> (<see cref="InTurn"/>).
    /// </summary>
    public static IReadOnlyList<OutputFidelity> Measure(string referencePath, string candidatePath, IDataSource data, RunnerOptions? runner = null,
        int batchSize = ModelEvaluation.EvaluationBatch)
    {
        using var reference = OnnxRunner.Load(referencePath, runner);
        return InTurn(reference, () => OnnxRunner.Load(candidatePath, runner), data, batchSize);
    }

    /// <summary>Bytes of reference outputs <see cref="InTurn"/> keeps so as to close the reference's session before it opens the candidate's.</summary>
    public const long KeptOutputBytes = 512L << 20;

    /// <summary>
    /// <see cref="Measure(OnnxRunner, OnnxRunner, IDataSource, int)"/> with only one of the two models in memory at a time: the reference's
    /// outputs on every batch are kept (while they fit <see cref="KeptOutputBytes"/>), <paramref name="reference"/> is disposed, and only then is
    /// the candidate opened and compared with them batch by batch — a big model and its compressed copy never sit in ONNX Runtime together.
    /// Outputs past the budget (<paramref name="keptBytes"/>) fall back to both sessions at once. The figures are the same either way (the
    /// same batches, in the same order).
    /// </summary>
    public static IReadOnlyList<OutputFidelity> InTurn(OnnxRunner reference, Func<OnnxRunner> openCandidate, IDataSource data,
        int batchSize = ModelEvaluation.EvaluationBatch, long keptBytes = KeptOutputBytes)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new DataException($"{data.Name} has no samples; fidelity needs at least one");
        var kept = new List<IReadOnlyList<HostTensor>>();
        long bytes = 0;
        foreach (var (_, outputs) in reference.Batches(data, batchSize, check: false))
        {
            bytes += outputs.Sum(o => (long)o.Data.LongLength * System.Runtime.InteropServices.Marshal.SizeOf(o.Data.GetType().GetElementType()!));
            if (bytes > keptBytes)
            {
                kept.Clear();
                using var both = openCandidate();
                return Measure(reference, both, data, batchSize);
            }
            kept.Add(outputs);
        }
        reference.Dispose();
        using var candidate = openCandidate();
        var meter = new FidelityMeter();
        using var batches = kept.GetEnumerator();
        foreach (var (_, outputs) in candidate.Batches(data, batchSize, check: false))
        {
            if (!batches.MoveNext()) break;
            meter.Add(batches.Current, outputs);
        }
        return meter.Result();
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

    /// <summary>An output whose cosine similarity to the input model's is below this has collapsed: commands warn about it.</summary>
    public const double CollapseCosine = 0.9;

    /// <summary>
    /// Each output of <paramref name="candidate"/> against <paramref name="reference"/> on <paramref name="data"/>, or, when it is null,
    /// on <see cref="FidelityOptions.RandomSamples"/> seeded random inputs shaped like the reference's inputs (<see cref="RandomInputs"/>).
    /// </summary>
    /// <exception cref="OptionsException">No data, and random inputs cannot be made (a dynamic axis without a size, an input type with no random form).</exception>
    public static FidelityMeasurement Against(OnnxRunner reference, OnnxRunner candidate, IDataSource? data, FidelityOptions? options = null)
    {
        var source = data ?? RandomInputs(reference, options ?? new());
        return new FidelityMeasurement(source.Name, Measure(reference, candidate, source));
    }

    /// <summary>
    /// <see cref="FidelityOptions.RandomSamples"/> seeded random samples for the inputs of <paramref name="model"/> (normal floats; token ids over the table an integer input indexes, other integers in
    /// {0, 1}; symbolic axes sized by the runner's <see cref="RunnerOptions.DimValues"/>), in as many batches as a fixed batch size needs.
    /// Its name says what it is, so every figure measured on it is stated as measured on random inputs.
    /// </summary>
    /// <exception cref="OptionsException">The model has no inputs, an input has a dynamic axis with no size, or a type with no random form.</exception>
    public static IDataSource RandomInputs(OnnxRunner model, FidelityOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        options.Validate();
        if (model.Inputs.Count == 0) throw new OptionsException($"'{model.Source}' has no inputs to make random samples for");
        if (model.Inputs.Any(i => i.Dims.Length == 0)) throw new OptionsException($"'{model.Source}' has a scalar input; random samples need a batch axis");
        var batches = new List<IReadOnlyList<HostTensor>>();
        for (long total = 0; total < options.RandomSamples; total += batches[^1][0].Shape[0])
            batches.Add(model.RandomInputs(options.RandomSamples, options.Seed + batches.Count));
        var tensors = batches[0].Select((t, i) => Concatenate(batches.Select(b => b[i]).ToList())).ToList();
        var n = tensors[0].Shape[0];
        return new InMemorySource($"{n} seeded random input{(n == 1 ? "" : "s")} ({Kinds(model)}, seed {options.Seed}; no data given)", tensors);
    }

    /// <summary>What the random inputs of <paramref name="model"/> are, in words: "normal floats", "token ids below 30522", "0 or 1".</summary>
    private static string Kinds(OnnxRunner model) => string.Join(", ", model.Inputs.Select(spec =>
        spec.ElementType == typeof(float) ? "normal floats"
        : model.IndexBounds.TryGetValue(spec.Name, out var rows) ? $"{spec.Name} below {rows}"
        : spec.ElementType == typeof(bool) ? "booleans" : $"{spec.Name} 0 or 1").Distinct());

    private static HostTensor Concatenate(IReadOnlyList<HostTensor> parts)
    {
        if (parts.Count == 1) return parts[0];
        var data = Array.CreateInstance(parts[0].Data.GetType().GetElementType()!, parts.Sum(p => p.Data.LongLength));
        long offset = 0;
        foreach (var p in parts) { Array.Copy(p.Data, 0, data, offset, p.Data.LongLength); offset += p.Data.LongLength; }
        return parts[0] with { Data = data, Shape = parts[0].Shape.Select((d, i) => i == 0 ? parts.Sum(p => p.Shape[0]) : d).ToArray() };
    }

    /// <summary>The warning of each output that collapsed (cosine under <see cref="CollapseCosine"/>), one line each, in the words commands print.</summary>
    public static IReadOnlyList<string> Collapses(IEnumerable<OutputFidelity>? outputs) => (outputs ?? Array.Empty<OutputFidelity>())
        .Where(o => o.Cosine < CollapseCosine)
        .Select(o => $"output '{Message.Name(o.Output)}' collapsed: cosine {o.Cosine:F2} against the input model (under {CollapseCosine:G})")
        .ToList();

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
        public double Cosine, CosineSquares, Signal, Noise, MaxAbs;
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
        o.Sums.MaxAbs) { CosineStdDev = StdDev(o.Sums) }).ToList();

    /// <summary>The sample standard deviation of the per-sample cosines (0 under two samples).</summary>
    private static double StdDev(Sums s) =>
        s.Samples < 2 ? 0 : Math.Sqrt(Math.Max(0, (s.CosineSquares - s.Cosine * s.Cosine / s.Samples) / (s.Samples - 1)));

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
            var cosine = rr == 0 && cc == 0 ? 1 : rr == 0 || cc == 0 ? 0 : dot / Math.Sqrt(rr * cc);
            (s.Cosine, s.CosineSquares) = (s.Cosine + cosine, s.CosineSquares + cosine * cosine);
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
