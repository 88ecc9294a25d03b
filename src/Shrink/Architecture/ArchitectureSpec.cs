namespace Shrink.Architecture;

/// <summary>Whether a space builds convolutional networks over images (C×H×W) or multilayer perceptrons over vectors.</summary>
public enum ArchitectureKind { Cnn, Mlp }

/// <summary>
/// A block of a stage. <see cref="Conv"/>: k×k conv, BatchNorm, activation. <see cref="Depthwise"/>: depthwise k×k conv
/// and pointwise 1×1 conv, each with BatchNorm and activation (MobileNet, Howard et al. 2017). <see cref="Inverted"/>: the
/// inverted residual of MobileNetV2 (Sandler et al. 2018): 1×1 expansion by the stage's ratio, depthwise k×k, linear 1×1
/// projection, added to the input when stride and width allow. <see cref="Residual"/>: ResNet's basic block (He et al. 2016),
/// two k×k convs and a shortcut (a 1×1 projection when stride or width change).
/// </summary>
public enum BlockKind { Conv, Depthwise, Inverted, Residual }

/// <summary>The activations a space may choose; relu6 is Clip(0, 6), hardswish x·relu6(x + 3)/6 (MobileNetV3), gelu the erf form.</summary>
public enum Activation { Relu, Relu6, Hardswish, Gelu, Sigmoid, Tanh }

/// <summary>A 2×2, stride-2 pooling after a stage (none: the stage's stride alone downsamples).</summary>
public enum StagePool { None, Max, Average }

/// <summary>How the head turns the last feature map into a vector: global average or max pooling, or flattening it.</summary>
public enum HeadPooling { Average, Max, Flatten }

/// <summary>
/// One stage of a CNN space: each key is the list of values the search chooses from. The stage repeats one block
/// <see cref="Blocks"/> times; the first block has the stage's stride, the others stride 1.
/// </summary>
public sealed record StageSpec
{
    public IReadOnlyList<int> Blocks { get; init; } = [1];
    public IReadOnlyList<BlockKind> Block { get; init; } = [BlockKind.Conv];
    public IReadOnlyList<int> Channels { get; init; } = [];
    public IReadOnlyList<int> Kernel { get; init; } = [3];
    public IReadOnlyList<int> Stride { get; init; } = [1];
    public IReadOnlyList<Activation> Activation { get; init; } = [Architecture.Activation.Relu];

    /// <summary>The expansion ratios of an inverted residual block (only chosen when the block is inverted).</summary>
    public IReadOnlyList<int>? Expansion { get; init; }

    /// <summary>Squeeze-and-excitation (Hu et al. 2018) on the block's features: false, true or both.</summary>
    public IReadOnlyList<bool> Se { get; init; } = [false];

    public IReadOnlyList<StagePool> Pool { get; init; } = [StagePool.None];
}

/// <summary>The head of a CNN space: the pooling and the classifier's hidden width (0: the pooled features go straight to the classes).</summary>
public sealed record HeadSpec
{
    public IReadOnlyList<HeadPooling> Pooling { get; init; } = [HeadPooling.Average];
    public IReadOnlyList<int> Classifier { get; init; } = [0];
    public IReadOnlyList<Activation> Activation { get; init; } = [Architecture.Activation.Relu];
}

/// <summary>An MLP space: the number of hidden layers, each one's width chosen from <see cref="Width"/>, one activation for all.</summary>
public sealed record MlpSpec
{
    public IReadOnlyList<int> Layers { get; init; } = [1];
    public IReadOnlyList<int> Width { get; init; } = [];
    public IReadOnlyList<Activation> Activation { get; init; } = [Architecture.Activation.Relu];
}

/// <summary>
/// A space file as written (YAML, kebab-case keys): <c>version</c> (1), <c>kind</c> (cnn or mlp), for a CNN its
/// <c>stages</c> and <c>head</c>, for an MLP its <c>mlp</c> section. The input shape and the classes come from the data.
/// </summary>
public sealed record ArchitectureSpec
{
    public int Version { get; init; } = 1;
    public ArchitectureKind Kind { get; init; } = ArchitectureKind.Cnn;
    public IReadOnlyList<StageSpec> Stages { get; init; } = [];
    public HeadSpec Head { get; init; } = new();
    public MlpSpec? Mlp { get; init; }
}
