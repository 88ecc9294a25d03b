using Shrink.Data;
using Shrink.Runtime;
using Xunit;

namespace Shrink.TestSupport;

/// <summary>
/// The real-graphs corpus (tests/data/torch/corpus, written by make_corpus.py): torchvision families as
/// torch.onnx.export writes them, each in two forms, "random" (torchvision's initialisation; deduplicated
/// initializers and Identity nodes as exported) and "realbn" (BatchNorm statistics estimated on Fashion-MNIST).
/// </summary>
internal static class Corpus
{
    public static readonly string[] Names =
    {
        "resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "regnet_y_400mf", "densenet121",
        "googlenet", "shufflenet_v2", "squeezenet1_1", "mnasnet", "vit", "lraspp_mobilenet_v3",
    };

    public static readonly string[] Forms = { "random", "realbn" };

    /// <summary>The few the tests run over: a residual CNN, squeeze-excitation with hard activations, dense blocks, a transformer, a segmentation map.</summary>
    public static readonly string[] Representative = { "resnet18", "mobilenet_v3_small", "densenet121", "vit", "lraspp_mobilenet_v3" };

    /// <summary>Every representative model in both forms.</summary>
    public static IEnumerable<(string Name, string Form)> RepresentativePairs =>
        Representative.SelectMany(name => Forms.Select(form => (name, form)));

    /// <summary><see cref="RepresentativePairs"/> as test data.</summary>
    public static TheoryData<string, string> RepresentativeForms
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (name, form) in RepresentativePairs) data.Add(name, form);
            return data;
        }
    }

    /// <summary>A corpus file, as copied beside the test assembly.</summary>
    public static string File(string file) => TestModels.TorchFile(System.IO.Path.Combine("corpus", file));

    public static string ModelPath(string name, string form) => File($"{name}.{form}.onnx");

    /// <summary>The model's reference input (batch 2) as ONNX Runtime's feed, named as the model names it.</summary>
    public static HostTensor Input(string name, string form)
    {
        var a = NpyFile.Read(File($"{name}.{form}.input.npy"));
        return new HostTensor("input", a.ToFloat32(), a.Shape);
    }

    /// <summary>PyTorch's eval-mode output for <see cref="Input"/>.</summary>
    public static (float[] Data, long[] Shape) Output(string name, string form)
    {
        var a = NpyFile.Read(File($"{name}.{form}.output.npy"));
        return (a.ToFloat32(), a.Shape);
    }
}
