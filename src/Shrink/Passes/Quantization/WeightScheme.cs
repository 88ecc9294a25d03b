namespace Shrink.Passes.Quantization;

/// <summary>How many weights share one scale.</summary>
public enum WeightGranularity
{
    /// <summary>One scale for the whole tensor.</summary>
    PerTensor,

    /// <summary>One scale per index of <see cref="WeightScheme.Axis"/> (the output channels).</summary>
    PerChannel,

    /// <summary>
    /// One scale per run of <see cref="WeightScheme.BlockSize"/> consecutive weights along
    /// <see cref="WeightScheme.Axis"/> (the reduction axis) at every position of the other axes, the last run
    /// shorter when the axis does not divide (ONNX's blocked quantization, DequantizeLinear-21's block_size).
    /// </summary>
    BlockWise,
}

/// <summary>
/// The one definition of how a weight tensor becomes integer levels and scales, which both implementations
/// follow — the host one (<see cref="WeightQuantizer"/>, what the export writes) and the TorchSharp one
/// (<c>Shrink.Training.Quantization.TorchWeightQuantizer</c>, what quantization-aware training trains on) —
/// so that the weights QAT trains on are the exported weights bit for bit.
/// <list type="bullet">
/// <item>Groups (<see cref="Groups"/>): the weights sharing one scale, by <see cref="Granularity"/>.</item>
/// <item>Statistics per group, in float64: m = max|w|, S = Σ|w|, n = the number of weights.</item>
/// <item>int8 and int4 (symmetric, L = <see cref="Limit"/>: 127, 64 with <see cref="ReduceRange"/>, 7):
/// scale = fl32(m / L) (1 when that is not positive); level = clamp(round(fl32(w / scale)), −L, L), rounding half to even.</item>
/// <item>ternary (TWN, Li et al. 2016): Δ = (0.7·S) / max(1, n); level = sign(w) where |w| &gt; Δ, else 0;
/// scale = fl32(mean of the |w| above Δ) (1 when none is).</item>
/// <item>binary (BWN / XNOR-Net, Rastegari et al. 2016): scale = fl32(S / max(1, n)) (1 when 0); level = 0 in a group
/// that is all zero (a pruned channel stays zero), else −1 where w &lt; 0 and +1 elsewhere.</item>
/// <item>Zero points are 0; the weight a model computes with is fl32(level · scale), as DequantizeLinear computes it.</item>
/// </list>
/// The float64 sums are the one place the two implementations may add in different orders: their rounding
/// (2⁻⁵³ relative) lies 29 bits below the float32 scale they produce.
/// </summary>
public sealed record WeightScheme
{
    /// <summary>8, 4, 2 (ternary) or 1 (binary).</summary>
    public int Bits { get; init; } = 8;

    public WeightGranularity Granularity { get; init; } = WeightGranularity.PerChannel;

    /// <summary>The channel axis (per channel) or the reduction axis (block-wise); unused per tensor.</summary>
    public int Axis { get; init; }

    /// <summary>Weights per block along <see cref="Axis"/> (block-wise only).</summary>
    public int BlockSize { get; init; }

    /// <summary>8-bit levels in ±<see cref="WeightQuantizer.ReducedLimit"/> (7 bits); no effect below 8 bits.</summary>
    public bool ReduceRange { get; init; }

    /// <summary>The largest level L.</summary>
    public int Limit => WeightQuantizer.Limit(Bits, ReduceRange);

    /// <summary>Checks the bit width and block size (<see cref="OptionsException"/>); returns the scheme.</summary>
    public WeightScheme Validate()
    {
        if (!WeightQuantizer.Widths.Contains(Bits)) throw new OptionsException($"weight bit width {Bits} is not one of 8, 4, 2 (ternary), 1 (binary)");
        if (Granularity == WeightGranularity.BlockWise && BlockSize < 2) throw new OptionsException($"block-wise scales need blocks of 2 or more weights, got {BlockSize}");
        if (!Enum.IsDefined(Granularity)) throw new ArgumentException($"unknown granularity {Granularity}");
        return this;
    }

    /// <summary>How a tensor of shape <paramref name="dims"/> falls into groups under this scheme.</summary>
    public WeightGroups Groups(long[] dims)
    {
        var count = dims.Aggregate(1L, (a, d) => a * d);
        if (Granularity == WeightGranularity.PerTensor) return new WeightGroups(1, 1, count, 1, 1, false);
        if (Axis < 0 || Axis >= dims.Length) throw new ArgumentException($"axis {Axis} is outside a weight of rank {dims.Length}");
        long outer = 1, inner = 1;
        for (var i = 0; i < Axis; i++) outer *= dims[i];
        for (var i = Axis + 1; i < dims.Length; i++) inner *= dims[i];
        var channels = dims[Axis];
        return Granularity == WeightGranularity.PerChannel
            ? new WeightGroups(outer, channels, 1, inner, channels, false)
            : new WeightGroups(outer, (channels + BlockSize - 1) / BlockSize, BlockSize, inner, channels, true);
    }

    /// <summary>The shape of the scales (and zero points) for a weight of shape <paramref name="dims"/>, as DequantizeLinear takes them.</summary>
    public long[] ScaleDims(long[] dims) => Granularity switch
    {
        WeightGranularity.PerTensor => Array.Empty<long>(),
        WeightGranularity.PerChannel => new[] { dims[Axis] },
        _ => dims.Select((d, i) => i == Axis ? (d + BlockSize - 1) / BlockSize : d).ToArray(),
    };

    /// <summary>For messages: "int4, block-wise (32 per scale, axis 0)".</summary>
    public override string ToString() =>
        $"{WeightQuantizer.Describe(Bits)}{(Bits == 8 && ReduceRange ? " (7 bits)" : "")}, " +
        Granularity switch { WeightGranularity.PerChannel => $"per channel (axis {Axis})", WeightGranularity.BlockWise => $"block-wise ({BlockSize} per scale, axis {Axis})", _ => "per tensor" };
}

/// <summary>
/// The groups of one weight tensor seen as a 4-D view [Outer, Groups, Length, Inner]: Outer = the product of the
/// axes before the scheme's axis, Inner = of those after it, and the axis itself split into Groups × Length
/// (per channel: channels × 1; block-wise: blocks × block size, the axis padded with zeros from
/// <see cref="Channels"/> to Groups · Length; per tensor: the whole tensor as 1 × 1 × N × 1, <see cref="Channels"/> 1). Per tensor and per
/// channel reduce over Outer, Length and Inner (one scale per group index); block-wise reduces over Length
/// only (one scale per Outer × Groups × Inner, row-major, which is <see cref="WeightScheme.ScaleDims"/>).
/// </summary>
public readonly record struct WeightGroups(long Outer, long Groups, long Length, long Inner, long Channels, bool Blocked)
{
    /// <summary>Number of scales.</summary>
    public long Count => Blocked ? Outer * Groups * Inner : Groups;

    /// <summary>The axes of the 4-D view that a group's statistics reduce over.</summary>
    public long[] ReducedAxes => Blocked ? new long[] { 2 } : new long[] { 0, 2, 3 };

    /// <summary>The scale index of the weight at flat (row-major) index <paramref name="i"/>.</summary>
    public long Of(long i)
    {
        var channel = i / Inner % Channels;
        return Blocked ? (i / (Inner * Channels) * Groups + channel / Length) * Inner + i % Inner : channel;
    }
}
