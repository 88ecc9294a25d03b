using System.Runtime.InteropServices;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Factorization;

/// <summary>How the rank of each factorized layer is chosen.</summary>
public sealed record LowRankOptions
{
    /// <summary>Keep the smallest rank whose singular values hold this fraction of Σσ² (the "energy"); null to use <see cref="Ratio"/>.</summary>
    public double? Energy { get; init; } = 0.9;

    /// <summary>Keep about this fraction of each layer's parameters: rank ⌊ratio·m·n/(m + n)⌋.</summary>
    public double? Ratio { get; init; }

    /// <summary>Layer names to factorize (null: every Conv, Gemm and MatMul with a constant weight).</summary>
    public IReadOnlySet<string>? Layers { get; init; }

    public LowRankOptions Validate()
    {
        if (Energy is null == Ratio is null) throw new OptionsException("give one of the energy and the ratio");
        if (Energy is { } e && !(e > 0 && e <= 1)) throw OptionsException.For(nameof(Energy), $"must be in (0, 1], got {e}");
        if (Ratio is { } r && !(r > 0 && r < 1)) throw OptionsException.For(nameof(Ratio), $"must be in (0, 1), got {r}");
        return this;
    }
}

/// <summary>
/// <c>factorize-lowrank</c>: truncated SVD of layer weights. A Gemm or MatMul weight W [K, N] ≈ (U√S)(√S Vᵀ)
/// becomes two layers x·A [K, r] → ·B [r, N] (+ the bias); a Conv weight [O, I, kh, kw], read as a matrix
/// [O, I·kh·kw], becomes a kh×kw convolution with r filters (same strides, pads, dilations) followed by a
/// 1×1 convolution to O channels (+ the bias). The rank comes from an energy threshold or a parameter
/// ratio per layer; a layer whose factors would not be smaller than it is left alone and listed, and so is
/// the layer producing a graph output (the classifier) unless the options name it. Grouped
/// convolutions and Gemm with alpha/beta ≠ 1 or transA are left alone. Counters: <c>layers</c>,
/// <c>parameters-before</c>, <c>parameters-after</c> (of the factorized layers).
/// </summary>
public sealed class LowRankPass : Pass
{
    private readonly LowRankOptions _options;
    private readonly ISvdSolver _svd;

    /// <param name="options">How ranks are chosen, and which layers.</param>
    /// <param name="svd">What computes the decompositions (default: <see cref="ManagedSvd"/>).</param>
    public LowRankPass(LowRankOptions options, ISvdSolver? svd = null) => (_options, _svd) = (options.Validate(), svd ?? ManagedSvd.Instance);

    public override string Id => "factorize-lowrank";

    public override string? CheckPreconditions(Model model) => Refusal(model)?.ToString();

    /// <summary>Why the pass cannot run on <paramref name="model"/> (<see cref="CheckPreconditions"/>), naming the option that lists the layers; null when it can.</summary>
    public OptionText? Refusal(Model model) => PrunableWeights.Refusal(model, _options.Layers, "factorize", nameof(LowRankOptions.Layers));

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (Refusal(model) is { } reason) throw new OptionsException(reason);
        var graph = model.Graph;
        var ranks = new Dictionary<string, LayerRank>();
        long before = 0, after = 0;
        foreach (var w in PrunableWeights.Find(model))
        {
            if (_options.Layers is { } only && !only.Contains(w.LayerName)) continue;
            if (SkipReason(graph, w) is { } skip)
            {
                context.Notes.Add($"'{w.LayerName}' left alone: {skip}");
                continue;
            }
            if (Factorize(graph, w, context) is not { } rank) continue;
            ranks[w.LayerName] = rank.Layer;
            before += rank.Before;
            after += rank.After;
        }
        graph.RemoveUnusedInitializers();
        return new PassResult(model, ranks.Count > 0, new Dictionary<string, long> { ["layers"] = ranks.Count, ["parameters-before"] = before, ["parameters-after"] = after })
        {
            Artifacts = new IArtifact[] { new FactorizationRanks { Layers = ranks } },
        };
    }

    /// <summary>Why a layer is left alone (the classifier unless named, grouped convolutions, Gemm with transA/alpha/beta), or null.</summary>
    private string? SkipReason(Graph graph, PrunableWeight w)
    {
        var node = w.Layer;
        var t = w.Tensor;
        // The classifier: a few outputs, and a low rank there costs accuracy for almost no parameters.
        if (_options.Layers is null && node.Outputs.Any(o => o is not null && graph.Outputs.Contains(o)))
            return "it produces a graph output (the classifier); name it among the layers to factorize it";
        var layout = w.Layout;
        return node.OpType switch
        {
            _ when layout.Spatial && layout.OutputAxis != 0 => "a transposed convolution",
            "Conv" when node.GetInt("group", 1) != 1 => "a grouped convolution",
            "Conv" when t.Dims.Length != 4 => "not a 2-D convolution",
            "Gemm" when node.GetInt("transA", 0) != 0 || node.GetFloat("alpha", 1) != 1 || node.GetFloat("beta", 1) != 1 => "Gemm with transA, alpha or beta",
            "MatMul" when w.InputIndex != 1 || t.Dims.Length != 2 => "a MatMul whose constant is not its 2-D right operand",
            _ => null,
        };
    }

    /// <summary>
    /// Replaces one layer by its two factors when they are smaller; returns the rank and the parameters
    /// before and after, or null (with a note) when the layer stays.
    /// </summary>
    private (LayerRank Layer, long Before, long After)? Factorize(Graph graph, PrunableWeight w, PassContext context)
    {
        var node = w.Layer;
        var t = w.Tensor;
        // The weight as a matrix M [m, n] with y = M-shaped product; Conv: [O, I·k·k]; Gemm/MatMul: [K, N].
        // The op registry's layout: a convolution's output channels on axis 0; a dense weight [N, K] (output axis 0) is read transposed.
        var (conv, transB) = (w.Layout.Spatial, !w.Layout.Spatial && w.Layout.OutputAxis == 0);
        var (m, n) = conv ? ((int)t.Dims[0], (int)(t.ElementCount / t.Dims[0]))
            : transB ? ((int)t.Dims[1], (int)t.Dims[0]) : ((int)t.Dims[0], (int)t.Dims[1]);
        using var svd = Decompose(t, m, n, transB);
        var s = svd.SingularValues;
        var full = s.Length;
        var rank = Rank(s, m, n);
        if ((long)rank * (m + n) >= (long)m * n)
        {
            context.Notes.Add($"'{w.LayerName}' left alone: rank {rank} of {full} would not make it smaller ({(long)rank * (m + n):N0} parameters against {(long)m * n:N0})");
            return null;
        }
        // M ≈ (U_r √S) (√S V_rᵀ), written straight into the bytes of the two new weights
        var (left, right) = (new byte[(long)m * rank * sizeof(float)], new byte[(long)rank * n * sizeof(float)]);
        svd.Factors(rank, MemoryMarshal.Cast<byte, float>(left.AsSpan()), MemoryMarshal.Cast<byte, float>(right.AsSpan()));
        Rewrite(graph, node, w, left, right, rank, m, n);
        graph.RemoveInitializerIfUnused(w.Weight); // layer by layer: the dense weight goes as soon as its factors exist
        return (new LayerRank(rank, full), (long)m * n, (long)rank * (m + n));
    }

    /// <summary>
    /// The decomposition of the weight as the matrix M [m, n], read without loading it: a Conv's [O, I·k·k] or a dense [K, N]
    /// are its row-major values, a dense weight stored [N, K] (<paramref name="transB"/>) its column-major ones.
    /// </summary>
    private SvdFactors Decompose(Tensor t, int m, int n, bool transB)
    {
        using var weight = t.ReadFloats();
        return _svd.Decompose(weight.Values, m, n, columnMajor: transB);
    }

    private int Rank(double[] s, int m, int n)
    {
        if (_options.Ratio is { } ratio) return Math.Clamp((int)Math.Floor(ratio * m * n / (m + n)), 1, s.Length);
        var total = s.Sum(x => x * x);
        if (total == 0) return 1;
        double kept = 0;
        for (var r = 0; r < s.Length; r++)
        {
            kept += s[r] * s[r];
            if (kept >= _options.Energy!.Value * total * (1 - 1e-12)) return r + 1;
        }
        return s.Length;
    }

    /// <summary>Replaces the layer by its two factors; the second takes over the layer's output (and its name when it is a graph output).</summary>
    private static void Rewrite(Graph graph, Node node, PrunableWeight w, byte[] left, byte[] right, int rank, int m, int n)
    {
        var name = w.LayerName;
        var conv = w.Layout.Spatial;
        var dims = w.Tensor.Dims;
        // Conv: r filters [r, I, kh, kw] = rows of √S·Vᵀ, then a 1×1 conv [O, r, 1, 1] = U·√S.
        // Gemm/MatMul: x [.., K] · A [K, r] · B [r, N], where the matrix [K, N] = left · right.
        var a = graph.AddInitializer(conv
            ? new Tensor(w.Weight.Name + "_lowrank_a", DataType.Float, new[] { (long)rank, dims[1], dims[2], dims[3] }, right)
            : new Tensor(w.Weight.Name + "_lowrank_a", DataType.Float, new[] { (long)m, rank }, left));
        var b = graph.AddInitializer(conv
            ? new Tensor(w.Weight.Name + "_lowrank_b", DataType.Float, new[] { dims[0], (long)rank, 1, 1 }, left)
            : new Tensor(w.Weight.Name + "_lowrank_b", DataType.Float, new[] { rank, (long)n }, right));

        var first = new Node(node.OpType, "", graph.UniqueName(name + "_lowrank_a"));
        foreach (var attribute in node.Attributes) first.Attributes.Add(attribute);
        if (node.OpType == "Gemm") first.SetAttribute(Ir.Attribute.Int("transB", 0));
        first.AddInput(node.Inputs[0]);
        first.AddInput(a);
        var middle = first.AddOutput(new Value(graph.UniqueName(name + "_lowrank_mid"), DataType.Float))!;

        var second = new Node(node.OpType, "", graph.UniqueName(name + "_lowrank_b"));
        second.AddInput(middle);
        second.AddInput(b);
        if (node.Inputs.ElementAtOrDefault(2) is { } bias) second.AddInput(bias);
        var y = node.Outputs[0]!;
        var output = second.AddOutput(new Value(graph.UniqueName(y.Name + "_lowrank"), DataType.Float, y.Shape))!;

        graph.InsertBefore(node, first);
        graph.InsertBefore(node, second);
        graph.ReplaceAllUsesWith(y, output);
        graph.RemoveNode(node);
    }
}
