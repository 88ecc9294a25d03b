using System.IO.Compression;
using Shrink.Data;
using Shrink.Ir;

namespace Shrink.Cli.Tests.Commands;

/// <summary>Models and data files that the data tests of the CLI build on the fly: a two-input model with token ids, a tabular MLP, NumPy arrays.</summary>
internal static class DataFiles
{
    /// <summary>Seeded N(0, 1) float32 samples of <paramref name="sample"/>, as <c>x.npy</c> would hold them.</summary>
    public static NpyArray Normal(int seed, int count, params long[] sample)
    {
        var random = new Random(seed);
        var n = (int)(count * sample.Aggregate(1L, (a, d) => a * d));
        var data = new float[n];
        for (var i = 0; i < n; i++) data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return NpyArray.FromFloat32(data, new long[] { count }.Concat(sample).ToArray());
    }

    /// <summary>Writes <paramref name="array"/> as a <c>.npy</c> file and returns its path.</summary>
    public static string Npy(string path, NpyArray array)
    {
        NpyFile.Write(path, array);
        return path;
    }

    /// <summary>Writes a <c>.npz</c> archive of the arrays (deflated, as <c>numpy.savez_compressed</c>) and returns its path.</summary>
    public static string Npz(string path, params (string Name, NpyArray Array)[] arrays)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, array) in arrays)
        {
            using var stream = zip.CreateEntry(name + ".npy", CompressionLevel.Optimal).Open();
            NpyFile.Write(stream, array);
        }
        return path;
    }

    /// <summary>Seeded token ids in [0, <paramref name="vocabulary"/>) of [count, length], as int64.</summary>
    public static NpyArray Ids(int seed, int count, int length, int vocabulary)
    {
        var random = new Random(seed);
        return NpyArray.FromInt64(Enumerable.Range(0, count * length).Select(_ => (long)random.Next(vocabulary)).ToArray(), [count, length]);
    }

    /// <summary>
    /// A model of two inputs, <c>features</c> float32 [N, 8] and <c>ids</c> int64 [N, 4]: logits [N, 5] = Gemm(features +
    /// mean of the ids' embeddings (a 16×8 table)). Weights seeded.
    /// </summary>
    public static string TwoInputs(TempDirectory dir)
    {
        var g = new Graph("two-inputs");
        var features = new Value("features", DataType.Float, new Shape([Dim.Symbol("N"), Dim.Of(8)]));
        var ids = new Value("ids", DataType.Int64, new Shape([Dim.Symbol("N"), Dim.Of(4)]));
        g.Inputs.Add(features);
        g.Inputs.Add(ids);
        var table = g.AddInitializer(Tensor.FromFloats("embedding", [16, 8], Normal(1, 16, 8).ToFloat32()));
        var gather = Add(g, new Node("Gather", "", "gather").AddInput(table).AddInput(ids), "embedded");
        var mean = new Node("ReduceMean", "", "mean").AddInput(gather);
        mean.Attributes.Add(Shrink.Ir.Attribute.Ints("axes", 1));
        mean.Attributes.Add(Shrink.Ir.Attribute.Int("keepdims", 0));
        var sum = Add(g, new Node("Add", "", "add").AddInput(features).AddInput(Add(g, mean, "pooled")), "sum");
        var w = g.AddInitializer(Tensor.FromFloats("w", [5, 8], Normal(2, 5, 8).ToFloat32()));
        var b = g.AddInitializer(Tensor.FromFloats("b", [5], Normal(3, 5).ToFloat32()));
        var gemm = new Node("Gemm", "", "gemm").AddInput(sum).AddInput(w).AddInput(b);
        gemm.Attributes.Add(Shrink.Ir.Attribute.Int("transB", 1));
        g.Outputs.Add(Add(g, gemm, "logits"));
        return Write(g, dir.File("two-inputs.onnx"));
    }

    /// <summary>A tabular classifier: <c>features</c> float32 [N, 3] → Gemm → logits [N, 2].</summary>
    public static string Tabular(TempDirectory dir)
    {
        var g = new Graph("tabular");
        var x = new Value("features", DataType.Float, new Shape([Dim.Symbol("N"), Dim.Of(3)]));
        g.Inputs.Add(x);
        var w = g.AddInitializer(Tensor.FromFloats("w", [2, 3], [1, 0, -1, -1, 1, 0]));
        var gemm = new Node("Gemm", "", "gemm").AddInput(x).AddInput(w);
        gemm.Attributes.Add(Shrink.Ir.Attribute.Int("transB", 1));
        g.Outputs.Add(Add(g, gemm, "logits"));
        return Write(g, dir.File("tabular.onnx"));
    }

    private static Value Add(Graph g, Node node, string output)
    {
        var value = node.AddOutput(new Value(output, DataType.Float))!;
        g.AddNode(node);
        return value;
    }

    private static string Write(Graph g, string path)
    {
        var model = new Model(g) { IrVersion = 8 };
        model.SetOpset("", 17);
        Shrink.Onnx.OnnxWriter.Write(model, path);
        return path;
    }
}
