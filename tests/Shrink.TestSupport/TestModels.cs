using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Zoo;
using Xunit;

namespace Shrink.TestSupport;

/// <summary>
/// The model corpus the tests run over (the zoo and the PyTorch-exported models in tests/data/torch, copied beside each
/// test assembly) and the small hand-made models more than one test project uses.
/// </summary>
internal static class TestModels
{
    public static readonly string[] TorchNames =
        { "resnet_tiny", "mobilenet_tiny", "squeezenet_tiny", "shufflenet_tiny", "transformer_tiny", "lenet_fmnist" };

    public static TheoryData<string> Torch => new(TorchNames);

    public static TheoryData<string> Zoo => new(ModelZoo.Names);

    /// <summary>A file of tests/data/torch (a model, or its reference input or output), as copied beside the test assembly.</summary>
    public static string TorchFile(string file) => Path.Combine(AppContext.BaseDirectory, "data", "torch", file);

    public static string TorchPath(string name) => TorchFile(name + ".onnx");

    /// <summary>The reference input or output of a torch model (<paramref name="which"/> is "input" or "output").</summary>
    public static (float[] Data, long[] Shape) TorchArray(string name, string which)
    {
        var a = NpyFile.Read(TorchFile($"{name}.{which}.npy"));
        return (a.ToFloat32(), a.Shape);
    }

    /// <summary>
    /// <paramref name="model"/> written to DIR/m.onnx with every tensor of 16 bytes or more in external data, and read back:
    /// no tensor of it is loaded (asserted), as a big model's are not.
    /// </summary>
    public static Model ReadWithExternalData(Model model, TempDirectory dir)
    {
        Onnx.OnnxWriter.Write(model, dir.File("m.onnx"), new Onnx.OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var lazy = Onnx.OnnxReader.Read(dir.File("m.onnx"));
        Assert.All(lazy.Graph.Initializers, v => Assert.False(v.Const!.IsLoaded));
        return lazy;
    }

    /// <summary>
    /// x [1, <paramref name="width"/>] → MatMul × <paramref name="layers"/> with [width, width] weights drawn from
    /// <c>new Random(seed)</c> as NextDouble() − 0.5, layer by layer (the last a Gemm with transB, whose weight is
    /// transposed), with a Relu between layers when <paramref name="relu"/>: the layer-by-layer tests' model.
    /// </summary>
    public static Model MatMulChain(int layers, int width, int seed, bool relu)
    {
        var random = new Random(seed);
        var g = new Graph("chain");
        var x = new Value("x", DataType.Float, Shape.Of(1, width));
        g.Inputs.Add(x);
        for (var i = 0; i < layers; i++)
        {
            var last = i == layers - 1;
            var w = g.AddInitializer(Tensor.FromFloats($"w{i}", new long[] { width, width },
                Enumerable.Range(0, width * width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray()));
            var node = new Node(last ? "Gemm" : "MatMul", "", $"layer{i}");
            if (last) node.Attributes.Add(Shrink.Ir.Attribute.Int("transB", 1));
            node.AddInput(x);
            node.AddInput(w);
            x = node.AddOutput(new Value(last ? "y" : $"h{i}", DataType.Float, Shape.Of(1, width)))!;
            g.AddNode(node);
            if (last || !relu) continue;
            var r = new Node("Relu", "", $"relu{i}");
            r.AddInput(x);
            x = r.AddOutput(new Value($"r{i}", DataType.Float, Shape.Of(1, width)))!;
            g.AddNode(r);
        }
        g.Outputs.Add(x);
        var model = new Model(g) { IrVersion = 8 };
        model.OpsetImports.Add(new("", 17));
        return model;
    }

    /// <summary>Zoo model <paramref name="zoo"/> (seed 3) pruned globally to <paramref name="sparsity"/> and clustered to <paramref name="bits"/> bits (convolutions 8).</summary>
    public static Model Clustered(string zoo, double sparsity, int bits)
    {
        var model = ModelZoo.Create(zoo, seed: 3);
        model = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = sparsity, Scope = PruneScope.Global }).Run(model, new PassContext()).Model;
        return new ClusterPass(new ClusterOptions { Bits = bits, ConvBits = 8 }).Run(model, new PassContext()).Model;
    }

    /// <summary>lenet5-like with ReLUs: conv channel 0 is forced dead (always zero after ReLU), channel 1 constant.</summary>
    public static Model WithDeadChannels()
    {
        var b = new Shrink.Builder.NetworkBuilder("dead", seed: 2);
        var x = b.Input("input", 1, 28, 28);
        var c = b.Relu(b.Conv(x, 8, 5));
        b.Output(b.Linear(b.Flatten(b.MaxPool(c, 2, 2)), 10));
        var model = b.Build();
        var w = model.Graph.FindInitializer("conv1.weight")!;
        var bias = model.Graph.FindInitializer("conv1.bias")!;
        var wv = w.Const!.AsFloats().ToArray();
        var bv = bias.Const!.AsFloats().ToArray();
        for (var i = 0; i < 25; i++) wv[i] = wv[25 + i] = 0;
        bv[0] = -1; // ReLU(−1) = 0 everywhere
        bv[1] = 0.5f; // ReLU(0.5) = 0.5 everywhere: no information
        w.Const = Tensor.FromFloats(w.Const.Name, w.Const.Dims, wv);
        bias.Const = Tensor.FromFloats(bias.Const.Name, bias.Const.Dims, bv);
        return model;
    }

    /// <summary>lenet300 with its first Relu renamed to an operator no runtime knows: valid to Shrink, refused by ONNX Runtime.</summary>
    public static Model WithUnknownOperator()
    {
        var model = ModelZoo.Create("lenet300");
        model.Graph.Nodes.First(n => n.OpType == "Relu").OpType = "NoSuchOperator";
        return model;
    }
}
