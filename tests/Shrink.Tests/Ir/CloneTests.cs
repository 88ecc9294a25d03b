using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Ir;

/// <summary><see cref="Model.Clone"/>: the copy writes the same bytes, shares nothing, and keeps every link (producers, uses, outer values).</summary>
public class CloneTests
{
    public static TheoryData<string> Zoo => TestModels.Zoo;
    public static TheoryData<string> Torch => TestModels.Torch;

    [Theory]
    [MemberData(nameof(Zoo))]
    public void ZooModelCloneWritesTheSameBytes(string name)
    {
        var model = ModelZoo.Create(name);
        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(model.Clone()));
    }

    [Theory]
    [MemberData(nameof(Torch))]
    public void TorchExportCloneWritesTheSameBytes(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        var clone = model.Clone();
        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(clone));
        AssertSameLinks(model, clone);
    }

    [Fact]
    public void RareFieldsSubgraphsAndResiduesSurviveTheClone()
    {
        var model = OnnxReader.Read(RareModel().ToByteArray());
        var clone = model.Clone();
        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(clone));
        AssertSameLinks(model, clone);
        // The If's branches read the outer input: in the copy they read the copy's input, not the original's.
        var branch = clone.Graph.FindNode("choose")!.Subgraphs.First();
        Assert.Same(clone.Graph.Inputs[0], branch.Nodes[0].Inputs[0]);
        Assert.Same(clone.Graph.FindNode("choose"), branch.OwnerNode);
        Assert.Empty(GraphValidator.Validate(clone));
    }

    [Fact]
    public void WritingAModelAndItsClone_CopiesNoTensor()
    {
        var model = ModelZoo.Create("lenet5");
        var clone = model.Clone();

        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(clone));

        Assert.All(model.Graph.Initializers, v => Assert.Same(v.Const!.SharedBytes, clone.Graph.FindInitializer(v.Name)!.Const!.SharedBytes));
    }

    [Fact]
    public void EditingTheCloneLeavesTheOriginalAsItWas()
    {
        var model = OnnxReader.Read(RareModel().ToByteArray());
        var before = OnnxWriter.ToBytes(model);
        var clone = model.Clone();
        var g = clone.Graph;
        g.FindNode("relu")!.OpType = "Sigmoid";                                    // a node
        g.FindNode("weird")!.SetAttribute(Shrink.Ir.Attribute.Int("i", 99));                  // an attribute
        ((long[])g.FindNode("weird")!.GetAttribute("ints")!.Value!)[0] = 42;        // an attribute's array
        g.FindNode("weird")!.GetTensor("t")!.AsFloats()[0] = 7f;                    // a tensor attribute's data
        g.FindInitializer("bias")!.Const!.AsFloats()[0] = 123f;                     // an initializer's data
        g.FindInitializer("bias")!.Shape = Shape.Of(1, 1);                          // a value's shape
        g.Inputs[0].Name = "renamed";                                               // a value read by the subgraphs
        g.FindNode("choose")!.Subgraphs.First().Nodes[0].OpType = "Abs";            // a node in a subgraph
        clone.SetMetadata("author", "someone else");                                // metadata
        clone.SetOpset("", 21);                                                     // opset imports
        g.RemoveNode(g.FindNode("weird")!, force: true);                            // the node list
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        Assert.NotEqual(before, OnnxWriter.ToBytes(clone));
    }

    [Fact]
    public void UsesOfTheCloneAreItsOwnAndInReadOrder()
    {
        var model = ModelZoo.Create("resnet-small");
        var clone = model.Clone();
        var x = clone.Graph.Inputs[0];
        Assert.All(x.Uses, u => Assert.Same(clone.Graph, u.Node.Graph));
        Assert.Equal(model.Graph.Inputs[0].Uses.Select(u => (u.Node.Name, u.Index)), x.Uses.Select(u => (u.Node.Name, u.Index)));
        // Rewiring the copy's input leaves the original's use list alone.
        var uses = model.Graph.Inputs[0].Uses.Count;
        clone.Graph.ReplaceAllUsesWith(x, clone.Graph.AddInitializer(Tensor.FromFloats("zero", new long[] { 1, 3, 32, 32 }, new float[3 * 32 * 32])));
        Assert.Equal(uses, model.Graph.Inputs[0].Uses.Count);
    }

    [Fact]
    public void ASubgraphCloneSharesNoValueWithItsOuterGraph()
    {
        var model = OnnxReader.Read(RareModel().ToByteArray());
        var branch = model.Graph.FindNode("choose")!.Subgraphs.First();
        var usesOfX = model.Graph.Inputs[0].Uses.Count;
        var copy = branch.Clone();
        Assert.Null(copy.OwnerNode);
        var outer = copy.Nodes[0].Inputs[0]!;
        Assert.Equal("x", outer.Name);
        Assert.NotSame(model.Graph.Inputs[0], outer); // a free value of the copy, as when the branch is read alone
        Assert.Equal(usesOfX, model.Graph.Inputs[0].Uses.Count);
    }

    [Fact]
    public void ExternalDataAndLargeModelsCloneWithoutSerialising()
    {
        // A model over protobuf's 2 GB limit could not be copied through bytes; the clone never writes any.
        var model = ModelZoo.Create("lenet300");
        var w = model.Graph.FindInitializer("gemm1.weight")!;
        w.Const!.Storage = TensorStorage.External;
        w.Const.ExternalInfo = new[] { new KeyValuePair<string, string>("location", "weights.data") };
        var clone = model.Clone();
        var t = clone.Graph.FindInitializer("gemm1.weight")!.Const!;
        Assert.Equal(TensorStorage.External, t.Storage);
        Assert.Equal("weights.data", t.ExternalInfo![0].Value);
        Assert.NotSame(w.Const.RawData, t.RawData);
        Assert.Equal(w.Const.RawData, t.RawData);
    }

    /// <summary>Every node's inputs and outputs are the clone's own values, with producers and uses that mirror the original's.</summary>
    private static void AssertSameLinks(Model model, Model clone)
    {
        var original = model.AllGraphs().SelectMany(g => g.Nodes).ToList();
        var copied = clone.AllGraphs().SelectMany(g => g.Nodes).ToList();
        Assert.Equal(original.Count, copied.Count);
        var originalValues = original.SelectMany(n => n.Inputs.Concat(n.Outputs)).OfType<Value>().ToHashSet();
        for (var i = 0; i < original.Count; i++)
        {
            Assert.NotSame(original[i], copied[i]);
            foreach (var (a, b) in original[i].Inputs.Zip(copied[i].Inputs).Concat(original[i].Outputs.Zip(copied[i].Outputs)))
            {
                if (a is null) { Assert.Null(b); continue; }
                Assert.DoesNotContain(b!, originalValues);
                Assert.Equal(a.Name, b!.Name);
                Assert.Equal(a.Producer?.Name, b.Producer?.Name);
                Assert.Equal(a.Uses.Select(u => (u.Node.Name, u.Index)), b.Uses.Select(u => (u.Node.Name, u.Index)));
            }
        }
    }

    /// <summary>A model with the fields the IR keeps as residue, every attribute kind, an If reading an outer value, and metadata.</summary>
    private static ModelProto RareModel()
    {
        var m = ProtoModels.Minimal();
        m.DocString = "model doc";
        m.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "tests" });
        m.Functions.Add(ByteString.CopyFrom(0x0A, 0x00));
        m.Graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 9, Shape = new TensorShapeProto() } } });
        m.Graph.Input[0].Type.TensorType.Shape.Dim[0].Denotation = "DATA_BATCH";
        m.Graph.Initializer.Add(ProtoModels.FloatTensor("bias", 1f, 2f, 3f));
        m.Graph.Initializer[0].MetadataProps.Add(new StringStringEntryProto { Key = "q", Value = "1" });
        m.Graph.ValueInfo.Add(ProtoModels.FloatInfo("not_in_graph", 5));
        m.Graph.QuantizationAnnotation.Add(ByteString.CopyFrom(10, 1, 0x79));
        m.Graph.Node[0].MetadataProps.Add(new StringStringEntryProto { Key = "source", Value = "model.py:12" });
        var weird = ProtoModels.Node("Weird", new[] { "x", "bias" }, new[] { "w_out" }, "weird", "com.example");
        weird.Attribute.Add(new AttributeProto { Name = "i", Type = AttributeProto.Types.AttributeType.Int, I = -7, DocString = "an int" });
        weird.Attribute.Add(new AttributeProto { Name = "s", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("héllo") });
        weird.Attribute.Add(new AttributeProto { Name = "t", Type = AttributeProto.Types.AttributeType.Tensor, T = ProtoModels.FloatTensor("t_value", 1.5f, -2f) });
        weird.Attribute.Add(new AttributeProto { Name = "ints", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1L, -1L } });
        weird.Attribute.Add(new AttributeProto { Name = "floats", Type = AttributeProto.Types.AttributeType.Floats, Floats = { 0.5f } });
        weird.Attribute.Add(new AttributeProto { Name = "strings", Type = AttributeProto.Types.AttributeType.Strings, Strings = { ByteString.CopyFromUtf8("a") } });
        weird.Attribute.Add(new AttributeProto { Name = "tensors", Type = AttributeProto.Types.AttributeType.Tensors, Tensors = { ProtoModels.FloatTensor("t0", 3f) } });
        weird.Attribute.Add(new AttributeProto { Name = "graphs", Type = AttributeProto.Types.AttributeType.Graphs, Graphs = { ProtoModels.Branch("gs_body", "Neg", "gs_out") } });
        weird.Attribute.Add(new AttributeProto { Name = "sparse", Type = AttributeProto.Types.AttributeType.SparseTensor, SparseTensor = ByteString.CopyFrom(1, 2, 3) });
        weird.Attribute.Add(new AttributeProto { Name = "untyped", I = 4 });
        m.Graph.Node.Add(weird);
        var choose = ProtoModels.Node("If", new[] { "cond" }, new[] { "if_out" }, "choose");
        choose.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = ProtoModels.Branch("then", "Identity", "then_out") });
        choose.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = ProtoModels.Branch("else", "Neg", "else_out") });
        m.Graph.Node.Add(choose);
        m.Graph.Output.Add(ProtoModels.FloatInfo("w_out", 2, 3));
        m.Graph.Output.Add(ProtoModels.FloatInfo("if_out", 2, 3));
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        return m;
    }
}
