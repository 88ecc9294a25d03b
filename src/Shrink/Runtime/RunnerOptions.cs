namespace Shrink.Runtime;

/// <summary>Options for <see cref="OnnxRunner"/>.</summary>
public sealed record RunnerOptions
{
    /// <summary>Intra-op threads; 0 lets ONNX Runtime choose (one per core).</summary>
    public int Threads { get; init; }

    /// <summary>Values for symbolic input dimensions other than the batch (e.g. <c>seq</c> → 8) when making inputs.</summary>
    public IReadOnlyDictionary<string, long> DimValues { get; init; } = new Dictionary<string, long>();

    /// <summary>Where ONNX Runtime writes the graph as it runs it, after its fusions (null: nowhere) — which layers became integer kernels.</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>
    /// Whether ONNX Runtime may change the layout of convolutions (its NCHWc kernels; <c>ORT_ENABLE_ALL</c>), true by
    /// default; false stops at <c>ORT_ENABLE_EXTENDED</c>. A split model's parts meet in plain NCHW, so its outputs equal the
    /// whole model's bit for bit only when both run without layout optimizations (with them, to about 1e-7 of the scale).
    /// </summary>
    public bool LayoutOptimizations { get; init; } = true;

    /// <summary>
    /// Whether ONNX Runtime may prepack constant weights when the session is created (its default: a packed copy of every
    /// MatMul/Conv weight, for speed). Off (<c>session.disable_prepacking</c>) for sessions that only check or measure outputs:
    /// a model's weights are then held once, not twice; latency is measured with it on.
    /// </summary>
    public bool Prepacking { get; init; } = true;

    /// <summary>Prefix of the file ONNX Runtime writes its per-node profile to (null: no profiling); see <see cref="OnnxRunner.EndProfiling"/>.</summary>
    public string? ProfilePrefix { get; init; }
}

/// <summary>One input or output of a session: name, element type and shape (−1 or a symbol where dynamic).</summary>
public sealed record TensorSpec(string Name, Type ElementType, long[] Dims, string?[] Symbols)
{
    public override string ToString() =>
        $"{Name}: {ElementType.Name}[{string.Join(",", Dims.Select((d, i) => d >= 0 ? d.ToString() : Symbols[i] ?? "?"))}]";
}

/// <summary>A dense tensor handed to or returned by ONNX Runtime: data (a T[]) and shape.</summary>
public sealed record HostTensor(string Name, Array Data, long[] Shape);
