using Shrink.Data.Images;
using Shrink.Ir;

namespace Shrink.TestSupport;

/// <summary>Small image folders, models and files built on the fly for the data-source tests.</summary>
internal static class SourceFiles
{
    /// <summary>A w×h image of <paramref name="channels"/>, pixel (y, x, c) = f(y, x, c).</summary>
    public static byte[] Pixels(int width, int height, int channels, Func<int, int, int, int> f)
    {
        var p = new byte[width * height * channels];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var c = 0; c < channels; c++)
                    p[(y * width + x) * channels + c] = (byte)f(y, x, c);
        return p;
    }

    /// <summary>Writes a PNG (lossless) of the pixels.</summary>
    public static string Png(string path, byte[] pixels, int width, int height, int channels)
    {
        ImageEncoder.Write(path, pixels, width, height, channels, ImageFormat.Png);
        return path;
    }

    /// <summary>
    /// An image folder under <paramref name="root"/>: for each class, <paramref name="perClass"/> RGB images of w×h whose
    /// pixels depend on the class and the image (so every image differs).
    /// </summary>
    public static void Folder(string root, string[] classes, int perClass, int width = 8, int height = 8, ImageFormat format = ImageFormat.Png)
    {
        for (var c = 0; c < classes.Length; c++)
            for (var i = 0; i < perClass; i++)
            {
                var pixels = Pixels(width, height, 3, (y, x, ch) => (c * 61 + i * 17 + y * 13 + x * 7 + ch * 29) % 256);
                var ext = format == ImageFormat.Jpeg ? ".jpg" : format == ImageFormat.Webp ? ".webp" : ".png";
                ImageEncoder.Write(Path.Combine(root, classes[c], $"img{i:D3}{ext}"), pixels, width, height, 3, format, format == ImageFormat.Webp ? 100 : 95);
            }
    }

    /// <summary>A model with one float input of <paramref name="dims"/> (the first a symbolic batch) and one Relu.</summary>
    public static Model ImageModel(params long[] dims)
    {
        var g = new Graph("image-model");
        var shape = new Shape(new[] { Dim.Symbol("N") }.Concat(dims.Select(d => Dim.Of(d))).ToArray());
        var x = new Value("pixels", DataType.Float, shape);
        g.Inputs.Add(x);
        var relu = new Node("Relu", "", "relu").AddInput(x);
        relu.AddOutput(new Value("y", DataType.Float));
        g.AddNode(relu);
        g.Outputs.Add(relu.Outputs[0]!);
        return new Model(g);
    }

    /// <summary>A model with int64 inputs input_ids and attention_mask of [batch, seq].</summary>
    public static Model TokenModel()
    {
        var g = new Graph("encoder");
        var ids = new Value("input_ids", DataType.Int64, new Shape(new[] { Dim.Symbol("batch"), Dim.Symbol("seq") }));
        var mask = new Value("attention_mask", DataType.Int64, new Shape(new[] { Dim.Symbol("batch"), Dim.Symbol("seq") }));
        g.Inputs.Add(ids);
        g.Inputs.Add(mask);
        var add = new Node("Add", "", "add").AddInput(ids).AddInput(mask);
        add.AddOutput(new Value("sum", DataType.Int64));
        g.AddNode(add);
        g.Outputs.Add(add.Outputs[0]!);
        return new Model(g);
    }

    /// <summary>Every sample of <paramref name="source"/> as one batch's float data.</summary>
    public static float[] All(Shrink.Data.IDataSource source, int epoch = 0) =>
        (float[])source.Read(Enumerable.Range(0, source.Count).ToArray(), epoch).Inputs[0].Data;
}
