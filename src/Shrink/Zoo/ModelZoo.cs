using Shrink.Builder;
using Shrink.Ir;

namespace Shrink.Zoo;

/// <summary>
/// Reference networks for 1×28×28 inputs and 10 classes (Fashion-MNIST), untrained and seeded.
/// Inputs are named <c>input</c> [N,1,28,28], outputs <c>output</c> [N,10] (logits).
/// </summary>
public static class ModelZoo
{
    /// <summary>The zoo's model names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "lenet300", "lenet5", "vgg-small", "resnet-small" };

    /// <summary>Builds a zoo model; an unknown name raises <see cref="OptionsException"/>.</summary>
    public static Model Create(string name, int seed = 0)
    {
        var b = new NetworkBuilder(name, seed);
        var x = b.Input("input", 1, 28, 28);
        var y = name switch
        {
            "lenet300" => LeNet300(b, x),
            "lenet5" => LeNet5(b, x),
            "vgg-small" => VggSmall(b, x),
            "resnet-small" => ResNetSmall(b, x),
            _ => throw new OptionsException($"unknown zoo model '{name}'; choose one of: {string.Join(", ", Names)}"),
        };
        b.Output(y, "output");
        b.Metadata("shrink.zoo", name);
        b.Metadata("shrink.seed", seed.ToString());
        return b.Build();
    }

    /// <summary>LeNet-300-100 (LeCun et al. 1998): 784-300-100-10 fully connected, ReLU.</summary>
    private static Value LeNet300(NetworkBuilder b, Value x)
    {
        x = b.Relu(b.Linear(b.Flatten(x), 300));
        x = b.Relu(b.Linear(x, 100));
        return b.Linear(x, 10);
    }

    /// <summary>Caffe's LeNet-5 as used by Deep Compression: conv 20@5×5, pool, conv 50@5×5, pool, fc 500, ReLU, fc 10.</summary>
    private static Value LeNet5(NetworkBuilder b, Value x)
    {
        x = b.MaxPool(b.Conv(x, 20, 5), 2, 2);
        x = b.MaxPool(b.Conv(x, 50, 5), 2, 2);
        x = b.Relu(b.Linear(b.Flatten(x), 500));
        return b.Linear(x, 10);
    }

    /// <summary>VGG-style: [32,32,M,64,64,M,128,128,M] 3×3 conv-BN-ReLU, fc 256, dropout, fc 10 (about 0.59M parameters).</summary>
    private static Value VggSmall(NetworkBuilder b, Value x)
    {
        foreach (var width in new long[] { 32, 64, 128 })
        {
            x = b.Relu(b.BatchNorm(b.Conv(x, width, 3, padding: 1, bias: false)));
            x = b.Relu(b.BatchNorm(b.Conv(x, width, 3, padding: 1, bias: false)));
            x = b.MaxPool(x, 2, 2);
        }
        x = b.Dropout(b.Relu(b.Linear(b.Flatten(x), 256)), 0.3f);
        return b.Linear(x, 10);
    }

    /// <summary>ResNet-20 style (He et al. 2016, CIFAR variant): 3 stages of 3 basic blocks, widths 16/32/64, 1×1 projection shortcuts (about 0.27M parameters).</summary>
    private static Value ResNetSmall(NetworkBuilder b, Value x)
    {
        x = b.Relu(b.BatchNorm(b.Conv(x, 16, 3, padding: 1, bias: false)));
        var inWidth = 16L;
        foreach (var (width, stride) in new[] { (16L, 1L), (32L, 2L), (64L, 2L) })
            for (var block = 0; block < 3; block++)
            {
                var s = block == 0 ? stride : 1;
                x = BasicBlock(b, x, inWidth, width, s);
                inWidth = width;
            }
        return b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10);
    }

    private static Value BasicBlock(NetworkBuilder b, Value x, long inWidth, long width, long stride)
    {
        var y = b.Relu(b.BatchNorm(b.Conv(x, width, 3, stride, 1, bias: false)));
        y = b.BatchNorm(b.Conv(y, width, 3, 1, 1, bias: false));
        var shortcut = stride != 1 || inWidth != width ? b.BatchNorm(b.Conv(x, width, 1, stride, bias: false)) : x;
        return b.Relu(b.Add(y, shortcut));
    }
}
