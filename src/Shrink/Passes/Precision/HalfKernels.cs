using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Passes.Precision;

/// <summary>
/// Which nodes ONNX Runtime's CPU provider runs in a 16-bit format, asked of the ONNX Runtime in use: the node alone, its
/// float32 inputs and outputs declared in that format (other inputs as they are; constant ones kept), is loaded in a
/// session, which either fails or, for float16, runs the node in float32 between Casts that its InsertCastTransformer adds
/// when no CPU kernel is registered for those types — both read as "no" (the registrations are in
/// <c>onnxruntime/core/providers/cpu/cpu_execution_provider.cc</c>: a few ops have <c>MLFloat16</c> kernels on every
/// CPU, more where MLAS has half-precision vector code, almost none <c>BFloat16</c>). Answers are cached by op, opset and
/// the input and output types, so each kind of node is asked once.
/// </summary>
internal sealed class HalfKernels(Model model, HalfFormat format)
{
    private readonly Dictionary<string, bool> _known = new();

    /// <summary>True when the CPU provider has a kernel for <paramref name="node"/> with its float32 values in the half format.</summary>
    public bool Supports(Node node)
    {
        var half = HalfValues.TypeOf(format);
        DataType As(Value? v) => TypeOf(v) == DataType.Float ? half : TypeOf(v);
        var key = $"{node.Domain}:{node.OpType}:{model.OpsetVersion(node.Domain)}:{string.Join(",", node.Inputs.Select(As))}>{string.Join(",", node.Outputs.Select(As))}" +
            string.Join(";", node.Attributes.Select(a => a.ToString()));
        if (!_known.TryGetValue(key, out var ok)) _known[key] = ok = Loads(node, half);
        return ok;
    }

    /// <summary>The element type of a value: an initializer's, else the one shape inference gave it.</summary>
    public static DataType TypeOf(Value? v) => v is null ? DataType.Undefined : v.Const?.DataType ?? v.ElementType;

    private bool Loads(Node node, DataType half)
    {
        var graph = new Graph("probe");
        var probe = new Node(node.OpType, node.Domain, "probe");
        foreach (var a in node.Attributes) probe.Attributes.Add(a);
        var i = 0;
        foreach (var input in node.Inputs)
        {
            if (input is null) { probe.AddInput(null); continue; }
            if (input.Const is { } t && t.DataType != DataType.Float)
            {
                var c = new Value($"c{i++}", t.DataType, t.Shape) { Const = t };
                graph.Initializers.Add(c);
                probe.AddInput(c);
                continue;
            }
            var type = TypeOf(input) == DataType.Float ? half : TypeOf(input);
            var x = new Value($"x{i++}", type, input.Const?.Shape ?? input.Shape);
            graph.Inputs.Add(x);
            probe.AddInput(x);
        }
        foreach (var output in node.Outputs)
        {
            if (output is null) { probe.AddOutput(null); continue; }
            var y = probe.AddOutput(new Value($"y{i++}", TypeOf(output) == DataType.Float ? half : TypeOf(output)))!;
            graph.Outputs.Add(y);
        }
        graph.AddNode(probe);
        var m = new Model(graph) { IrVersion = Math.Max(model.IrVersion, 7) };
        foreach (var kv in model.OpsetImports) m.OpsetImports.Add(kv);
        // For a float16 node without a float16 kernel the CPU provider does not refuse the model: its InsertCastTransformer
        // wraps the node in Casts to float32 and runs the float32 kernel. The graph ONNX Runtime runs says which it did.
        var optimized = Path.Combine(Path.GetTempPath(), $"shrink-half-probe-{Guid.NewGuid():N}.onnx");
        try
        {
            using (OnnxRunner.FromModel(m, new RunnerOptions { Threads = 1, OptimizedModelPath = optimized }, "probe")) { }
            return !Onnx.OnnxReader.Read(optimized).Graph.Nodes.Any(n => n.OpType == "Cast");
        }
        catch (ShrinkUserException) { return false; }
        finally { File.Delete(optimized); }
    }
}
