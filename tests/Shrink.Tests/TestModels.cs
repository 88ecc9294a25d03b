using Shrink.Data;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests;

/// <summary>The model corpus the tests run over: the zoo and the PyTorch-exported models in tests/data/torch.</summary>
internal static class TestModels
{
    public static readonly string[] TorchNames =
        { "resnet_tiny", "mobilenet_tiny", "squeezenet_tiny", "shufflenet_tiny", "transformer_tiny", "lenet_fmnist" };

    public static TheoryData<string> Torch => new(TorchNames);

    public static TheoryData<string> Zoo => new(ModelZoo.Names);

    public static string TorchPath(string name) => Path.Combine(AppContext.BaseDirectory, "data", "torch", name + ".onnx");

    /// <summary>The reference input or output of a torch model (<paramref name="which"/> is "input" or "output").</summary>
    public static (float[] Data, long[] Shape) TorchArray(string name, string which)
    {
        var a = NpyFile.Read(Path.Combine(AppContext.BaseDirectory, "data", "torch", $"{name}.{which}.npy"));
        return (a.ToFloat32(), a.Shape);
    }
}
