namespace Shrink.Passes.Pruning;

/// <summary>
/// How pruning chooses what goes. Unstructured (single weights zeroed): <see cref="Magnitude"/>,
/// <see cref="Random"/>, <see cref="Taylor"/>, <see cref="NM"/>. Structured (whole channels cut out of the
/// graph): <see cref="L1Filter"/>, <see cref="L2Filter"/>, <see cref="Fpgm"/>, <see cref="BnScale"/>,
/// <see cref="Slim"/>, <see cref="Apoz"/>, <see cref="Entropy"/>, <see cref="TaylorFilter"/>. Names in
/// files and messages are kebab-case (<see cref="PruneMethods.Name"/>: <c>l1-filter</c>, <c>bn-scale</c>, …).
/// </summary>
public enum PruneMethod
{
    /// <summary>Smallest |w| (Han et al. 2015).</summary>
    Magnitude,

    /// <summary>A seeded random choice: the baseline every criterion should beat.</summary>
    Random,

    /// <summary>Smallest first-order saliency |w·∂L/∂w| measured on data (Molchanov et al. 2017).</summary>
    Taylor,

    /// <summary>Keep the N largest of every M consecutive weights along the summed axis (sparsity 1 − N/M); the pattern is <c>Pattern</c>.</summary>
    NM,

    /// <summary>Channels whose producing filters have the smallest L1 norm (Li et al. 2017).</summary>
    L1Filter,

    /// <summary>Channels whose producing filters have the smallest L2 norm.</summary>
    L2Filter,

    /// <summary>Filters nearest the geometric median of their layer, the most replaceable (He et al. 2019).</summary>
    Fpgm,

    /// <summary>Channels with the smallest |γ| of their BatchNorm.</summary>
    BnScale,

    /// <summary>Network slimming (Liu et al. 2017): |γ| after sparsity training with an L1 penalty on γ.</summary>
    Slim,

    /// <summary>1 − the average percentage of zeros after the activation, measured on data (Hu et al. 2016).</summary>
    Apoz,

    /// <summary>Entropy of the channel's pooled activation over samples, measured on data (Luo &amp; Wu 2017).</summary>
    Entropy,

    /// <summary>First-order Taylor estimate of the loss change when the whole channel goes, measured on data (Molchanov et al. 2019).</summary>
    TaylorFilter,
}

/// <summary>Which weights compete: each layer (structured: each channel group) on its own, or all against one threshold.</summary>
public enum PruneScope { Layer, Global }

/// <summary>
/// When pruning happens: all at once (<see cref="Oneshot"/>); in K rounds of prune and fine-tune with the sparsity
/// rising along Zhu &amp; Gupta's cubic ramp (<see cref="Iterative"/>); or gradually while fine-tuning (<see cref="Agp"/>).
/// </summary>
public enum PruneSchedule { Oneshot, Iterative, Agp }

/// <summary>An N:M pattern: N of every M consecutive weights are kept (2:4 is what sparse tensor cores run).</summary>
public sealed record NmPattern(int N, int M)
{
    /// <summary>The sparsity the pattern sets: 1 − N/M.</summary>
    public double Sparsity => 1 - (double)N / M;

    public override string ToString() => $"{N}:{M}";

    /// <summary>Reads "N:M"; null when the text is not two integers around a colon.</summary>
    public static NmPattern? Parse(string text) =>
        text.Split(':') is [var a, var b] && int.TryParse(a, out var n) && int.TryParse(b, out var m) ? new NmPattern(n, m) : null;
}

/// <summary>Names and kinds of the pruning methods.</summary>
public static class PruneMethods
{
    private static readonly Dictionary<PruneMethod, string> Names = new()
    {
        [PruneMethod.Magnitude] = "magnitude", [PruneMethod.Random] = "random", [PruneMethod.Taylor] = "taylor", [PruneMethod.NM] = "nm",
        [PruneMethod.L1Filter] = "l1-filter", [PruneMethod.L2Filter] = "l2-filter", [PruneMethod.Fpgm] = "fpgm", [PruneMethod.BnScale] = "bn-scale",
        [PruneMethod.Slim] = "slim", [PruneMethod.Apoz] = "apoz", [PruneMethod.Entropy] = "entropy", [PruneMethod.TaylorFilter] = "taylor-filter",
    };

    /// <summary>The structured methods, in the order the CLI lists them.</summary>
    public static IReadOnlyList<PruneMethod> Structured { get; } = new[]
    {
        PruneMethod.L1Filter, PruneMethod.L2Filter, PruneMethod.Fpgm, PruneMethod.BnScale, PruneMethod.Slim, PruneMethod.Apoz, PruneMethod.Entropy, PruneMethod.TaylorFilter,
    };

    /// <summary>The kebab-case name of a method ("l1-filter", "nm"), as recipes and JSON write it.</summary>
    public static string Name(this PruneMethod method) => Names[method];

    /// <summary>The method called <paramref name="name"/> (kebab-case, as <see cref="Name"/> writes it), or null.</summary>
    public static PruneMethod? Parse(string name) => Names.FirstOrDefault(kv => kv.Value == name) is { Value: not null } kv ? kv.Key : null;

    /// <summary>Cuts whole channels out of the graph (the structured methods).</summary>
    public static bool IsStructured(this PruneMethod method) => Structured.Contains(method);

    /// <summary>Scores come from data measured by the caller (activations or gradients): apoz, entropy, taylor-filter, taylor.</summary>
    public static bool IsMeasured(this PruneMethod method) => method is PruneMethod.Apoz or PruneMethod.Entropy or PruneMethod.TaylorFilter or PruneMethod.Taylor;

    /// <summary>Ranks channels by BatchNorm |γ|, whose scores compare across layers: bn-scale and slim.</summary>
    public static bool UsesGamma(this PruneMethod method) => method is PruneMethod.BnScale or PruneMethod.Slim;

    /// <summary>
    /// Zhu &amp; Gupta's cubic ramp: the fraction of the target sparsity reached after round <paramref name="round"/>
    /// of <paramref name="rounds"/>, 1 − (1 − round/rounds)³ — large steps while the network is redundant, small ones near the target.
    /// </summary>
    public static double Ramp(int round, int rounds) => 1 - Math.Pow(1 - (double)round / rounds, 3);
}
