using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Runtime;

namespace Shrink.Evaluation;

/// <summary>How <see cref="TensorComparison.Compare(string, string, IDataSource?, TensorComparisonOptions?, RunnerOptions?)"/> runs the two models.</summary>
public sealed record TensorComparisonOptions
{
    /// <summary>Samples compared: the first this many of the data, or this many seeded random inputs when there is no data.</summary>
    public int Samples { get; init; } = 64;

    /// <summary>Samples per ONNX Runtime run (every intermediate tensor of the batch is held at once).</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Seed of the random inputs.</summary>
    public int Seed { get; init; }

    /// <summary>Checks the values; returns the options.</summary>
    public TensorComparisonOptions Validate()
    {
        if (Samples < 1) throw OptionsException.For(nameof(Samples), $"must be 1 or more, got {Samples}");
        if (Batch < 1) throw OptionsException.For(nameof(Batch), $"must be 1 or more, got {Batch}");
        return this;
    }
}

/// <summary>
/// One intermediate tensor of the reference model against its match in the candidate: <see cref="Candidate"/> is the
/// candidate's name for it (the dequantized tensor of a quantized model), <see cref="Position"/> the rank of its producer in
/// the reference's topological order; figures as in <see cref="OutputFidelity"/> (per-sample cosine averaged, SQNR over every element).
/// </summary>
public sealed record TensorError(string Tensor, string Candidate, int Position, string Producer, long[] Shape, bool IsOutput, double Cosine, double SqnrDb, double MaxAbsError);

/// <summary>A matched pair left out because its shapes differ (a pruned layer, say).</summary>
public sealed record SkippedTensor(string Tensor, string Candidate, long[] ReferenceShape, long[] CandidateShape);

/// <summary>
/// Every matching pair of intermediate tensors of two models, ranked by error, worst first (lowest SQNR, then lowest cosine):
/// <see cref="Tensors"/>; pairs whose shapes differ are <see cref="Skipped"/>; the reference's float tensors with no match in
/// the candidate are named in <see cref="Unmatched"/>.
/// </summary>
public sealed record TensorComparisonResult(string Reference, string Candidate, string Data, int Samples, IReadOnlyList<TensorError> Tensors,
    IReadOnlyList<SkippedTensor> Skipped, IReadOnlyList<string> Unmatched)
{
    /// <summary>The first tensor, in the reference's order, whose cosine is under <paramref name="cosine"/>: where the candidate starts to break.</summary>
    public TensorError? FirstBelow(double cosine = Fidelity.CollapseCosine) => Tensors.Where(t => t.Cosine < cosine).MinBy(t => t.Position);
}

/// <summary>
/// Finds the layer that breaks: runs a reference model (float) and a candidate (quantized, pruned, clustered…) in ONNX Runtime with
/// every intermediate float tensor made a graph output, pairs them, and measures each pair, as ONNX Runtime's
/// <c>qdq_loss_debug</c> does (<c>modify_model_output_intermediate_tensors</c>, <c>create_activation_matching</c>,
/// <c>compute_activation_error</c>). A reference tensor <c>X</c> is paired with what the candidate's next layer reads in its place:
/// the output of a DequantizeLinear fed by a QuantizeLinear of <c>X</c> (Shrink's <c>X_dequantized</c>, ONNX Runtime's
/// <c>X_DequantizeLinear_Output</c>), else the candidate's tensor named <c>X_DequantizeLinear_Output</c>, else its tensor named <c>X</c>.
/// </summary>
public static class TensorComparison
{
    /// <summary>Compares two model files on <paramref name="data"/> (null: seeded random inputs shaped like the reference's inputs).</summary>
    public static TensorComparisonResult Compare(string referencePath, string candidatePath, IDataSource? data, TensorComparisonOptions? options = null,
        RunnerOptions? runner = null) =>
        Compare(OnnxReader.Read(referencePath), OnnxReader.Read(candidatePath), data, options, runner, referencePath, candidatePath);

    /// <summary>Compares two in-memory models (<paramref name="referenceName"/> and <paramref name="candidateName"/> name them in messages).</summary>
    public static TensorComparisonResult Compare(Model reference, Model candidate, IDataSource? data, TensorComparisonOptions? options = null,
        RunnerOptions? runner = null, string referenceName = "the reference model", string candidateName = "the candidate model")
    {
        options = (options ?? new()).Validate();
        (reference, candidate) = (Typed(reference), Typed(candidate));
        var (pairs, unmatched) = Match(reference.Graph, candidate.Graph);
        var outputs = reference.Graph.Outputs.Select(o => o.Name).ToHashSet();
        using var a = OnnxRunner.FromModel(Exposed(reference, pairs.Select(p => p.A.Name)), runner, referenceName);
        using var b = OnnxRunner.FromModel(Exposed(candidate, pairs.Select(p => p.B.Name)), runner, candidateName);
        var source = data is null
            ? Fidelity.RandomInputs(a, new FidelityOptions { RandomSamples = options.Samples, Seed = options.Seed })
            : data.Count > options.Samples ? DataSource.Take(data, options.Samples) : data;
        if (source.Count == 0) throw new DataException($"{source.Name} has no samples; the comparison needs at least one");
        var meters = pairs.Select(_ => new FidelityMeter()).ToArray();
        var (shapes, skipped) = (new long[pairs.Count][], new Dictionary<int, SkippedTensor>());
        var samples = 0;
        using var batchesB = b.RunBatches(source, options.Batch).GetEnumerator();
        foreach (var (outputsA, count) in a.RunBatches(source, options.Batch))
        {
            if (!batchesB.MoveNext()) break;
            var (byNameA, byNameB) = (outputsA.ToDictionary(t => t.Name), batchesB.Current.Outputs.ToDictionary(t => t.Name));
            for (var i = 0; i < pairs.Count; i++)
            {
                if (skipped.ContainsKey(i)) continue;
                var (ta, tb) = (byNameA[pairs[i].A.Name], byNameB[pairs[i].B.Name]);
                if (!ta.Shape.SequenceEqual(tb.Shape)) { skipped[i] = new SkippedTensor(ta.Name, tb.Name, ta.Shape, tb.Shape); continue; }
                shapes[i] ??= ta.Shape.Skip(1).ToArray();
                meters[i].Add(new[] { ta }, new[] { tb with { Name = ta.Name } });
            }
            samples += count;
        }
        var tensors = Enumerable.Range(0, pairs.Count).Where(i => !skipped.ContainsKey(i)).Select(i => Error(pairs[i], shapes[i], meters[i], outputs.Contains(pairs[i].A.Name)))
            .OrderBy(t => t.SqnrDb).ThenBy(t => t.Cosine).ThenBy(t => t.Position).ToList();
        return new TensorComparisonResult(referenceName, candidateName, source.Name, samples, tensors, skipped.Values.ToList(), unmatched);
    }

    private static TensorError Error((Value A, Value B, int Position) pair, long[]? shape, FidelityMeter meter, bool isOutput)
    {
        var f = meter.Result().Single();
        return new TensorError(pair.A.Name, pair.B.Name, pair.Position, pair.A.Producer?.DisplayName ?? "", shape ?? Array.Empty<long>(),
            isOutput, f.Cosine, f.SqnrDb, f.MaxAbsError);
    }

    /// <summary>The float node outputs of the reference paired with their match in the candidate, in the reference's order, and those without one.</summary>
    internal static (List<(Value A, Value B, int Position)> Pairs, List<string> Unmatched) Match(Graph reference, Graph candidate)
    {
        var produced = candidate.Nodes.SelectMany(n => n.Outputs).Where(v => v is not null).Select(v => v!)
            .GroupBy(v => v.Name).ToDictionary(g => g.Key, g => g.First());
        var order = reference.TopologicalOrder();
        var matches = new Dictionary<Value, Value>();
        foreach (var v in order.Where(n => n.OpType != "Constant").SelectMany(n => n.Outputs).Where(v => v is not null && IsCompared(v.ElementType)))
            if (Find(v!, produced) is { } match && match.ElementType == v!.ElementType && !matches.ContainsKey(v)) matches[v] = match;
            else if (v!.Uses.Count == 1 && FoldedActivation(v, produced) is { } folded) (matches[v], matches[folded.Output]) = (folded.Float, folded.Dequantized);
        var pairs = new List<(Value, Value, int)>();
        var unmatched = new List<string>();
        for (var position = 0; position < order.Count; position++)
            foreach (var v in order[position].Outputs.Where(v => v is not null && IsCompared(v.ElementType) && order[position].OpType != "Constant"))
                if (matches.TryGetValue(v!, out var m)) pairs.Add((v!, m, position));
                else unmatched.Add(v!.Name);
        return (pairs, unmatched);
    }

    /// <summary>The candidate's tensor for <paramref name="v"/>: what its next layer reads (the dequantized tensor), else the tensor of that name.</summary>
    private static Value? Find(Value v, Dictionary<string, Value> produced)
    {
        if (v.Uses.Count == 1 && FoldedActivation(v, produced) is not null) return null;  // paired with the activation below
        return Dequantized(produced.GetValueOrDefault(v.Name)) ?? produced.GetValueOrDefault(v.Name + "_DequantizeLinear_Output") ?? produced.GetValueOrDefault(v.Name);
    }

    /// <summary>
    /// A ReLU or Clip after <paramref name="v"/> that the candidate folded into the quantization of <paramref name="v"/> (static
    /// quantization removes them: the quantized range starts at 0): the candidate's float <paramref name="v"/> is the reference's
    /// <paramref name="v"/>, and its dequantized <paramref name="v"/> is the reference's activation output.
    /// </summary>
    private static (Value Output, Value Float, Value Dequantized)? FoldedActivation(Value v, Dictionary<string, Value> produced)
    {
        var act = v.Uses[0].Node;
        if (act.OpType is not ("Relu" or "Clip") || act.Outputs[0] is not { } output || produced.ContainsKey(output.Name)) return null;
        return produced.GetValueOrDefault(v.Name) is { } f && Dequantized(f) is { } dq ? (output, f, dq) : null;
    }

    private static bool IsCompared(DataType type) => type is DataType.Float or DataType.Double;

    /// <summary>What the candidate's next layer reads in place of <paramref name="v"/>: the output of DequantizeLinear(QuantizeLinear(v)), or null.</summary>
    private static Value? Dequantized(Value? v) => v?.Uses
        .Where(u => u.Node.OpType == "QuantizeLinear" && u.Index == 0)
        .SelectMany(u => u.Node.Outputs[0]?.Uses ?? Array.Empty<Use>())
        .Where(u => u.Node.OpType == "DequantizeLinear" && u.Index == 0)
        .Select(u => u.Node.Outputs[0]).FirstOrDefault();

    /// <summary>A copy of <paramref name="model"/> whose values have the element types and shapes the op registry infers.</summary>
    private static Model Typed(Model model)
    {
        var copy = model.Clone();
        ShapeInference.Run(copy);
        return copy;
    }

    /// <summary><paramref name="copy"/> with the named values made graph outputs.</summary>
    private static Model Exposed(Model copy, IEnumerable<string> names)
    {
        var values = copy.Graph.Nodes.SelectMany(n => n.Outputs).Where(v => v is not null).GroupBy(v => v!.Name).ToDictionary(g => g.Key, g => g.First()!);
        foreach (var name in names.Distinct())
            if (!copy.Graph.Outputs.Contains(values[name])) copy.Graph.Outputs.Add(values[name]);
        return copy;
    }
}
