using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Runtime;

/// <summary><see cref="OnnxRunner"/>'s index bounds: read from the model file's outline, the same as from the model, and none when the file is unreadable.</summary>
public class IndexBoundsTests
{
    /// <summary>int32 ids [2, 5] → Cast → Gather of a table of 20 rows, and the ids → Gather of a table of 7 rows.</summary>
    private static Model TwoTables()
    {
        var model = new Model(new Graph("tables"));
        model.SetOpset("", 17);
        var g = model.Graph;
        var ids = new Value("ids", DataType.Int32, Shape.Of(2, 5));
        g.Inputs.Add(ids);
        var cast = new Node("Cast", "", "cast");
        cast.AddInput(ids);
        cast.Attributes.Add(Shrink.Ir.Attribute.Int("to", (long)DataType.Int64));
        var wide = cast.AddOutput(new Value("ids64", DataType.Int64))!;
        g.AddNode(cast);
        foreach (var (name, rows, index) in new[] { ("words", 20, wide), ("positions", 7, ids) })
        {
            var gather = new Node("Gather", "", "gather_" + name);
            gather.AddInput(g.AddInitializer(Tensor.FromFloats(name, new long[] { rows, 4 }, new float[rows * 4])));
            gather.AddInput(index);
            g.Outputs.Add(gather.AddOutput(new Value(name + "_out", DataType.Float))!);
            g.AddNode(gather);
        }
        return model;
    }

    [Fact]
    public void ASessionOnAFile_ReadsTheBoundsFromItsOutline()
    {
        using var dir = new TempDirectory();
        var model = TwoTables();
        OnnxWriter.Write(model, dir.File("m.onnx"));

        using var runner = OnnxRunner.Load(dir.File("m.onnx"));

        Assert.Equal(new Dictionary<string, long> { ["ids"] = 7 }, runner.IndexBounds);
        Assert.Equal(runner.IndexBounds, IndexInputs.Bounds(model));
        Assert.All((int[])runner.RandomInputs(batch: 2)[0].Data, id => Assert.InRange(id, 0, 6));
    }

    [Fact]
    public void AFileThatNoLongerParses_GivesNoBounds()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(TwoTables(), dir.File("m.onnx"));
        using var runner = OnnxRunner.Load(dir.File("m.onnx"));
        File.WriteAllBytes(dir.File("m.onnx"), new byte[] { 0x0A, 0xFF, 0xFF, 0xFF });  // a field longer than the file

        Assert.Empty(runner.IndexBounds);
        Assert.All((int[])runner.RandomInputs(batch: 2)[0].Data, id => Assert.InRange(id, 0, 1));
    }
}
