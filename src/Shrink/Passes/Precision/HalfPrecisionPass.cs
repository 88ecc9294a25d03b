using Shrink.Ir;
using Shrink.Ops;
using Shrink.Text;

namespace Shrink.Passes.Precision;

/// <summary>
/// <c>convert-precision</c>: stores a model's float32 weights in float16 or bfloat16, halving their bytes. By default it
/// computes in float32 as before: each converted initializer is read through a Cast to float32, which ONNX Runtime folds
/// into a constant when it loads the model (the file is half the size; the arithmetic is float32 on weights rounded to
/// half). With <see cref="PrecisionOptions.Compute"/> the nodes ONNX Runtime's CPU provider runs in the half format
/// (<see cref="HalfKernels"/>: asked of the runtime in use, node kind by node kind) read and write it, and the others —
/// with the op types of <see cref="PrecisionOptions.FloatOps"/> — stay float32, with Cast nodes wherever a value crosses
/// between the two, as onnxconverter-common's <c>convert_float_to_float16</c> does with its block list. Graph inputs and
/// outputs stay float32 unless <see cref="PrecisionOptions.KeepIoTypes"/> is false. float16 values beyond ±65504 are
/// clamped (counted). Needs no data, no training; shapes are unchanged; element types change where said.
/// Counters: <c>tensors</c> converted, <c>half-nodes</c>, <c>float-nodes</c>, <c>casts</c>, <c>clamped</c>.
/// </summary>
public sealed class HalfPrecisionPass : Pass
{
    private readonly PrecisionOptions _options;

    public HalfPrecisionPass(PrecisionOptions options) => _options = options.Validate();

    public override string Id => "convert-precision";

    public override string? CheckPreconditions(Model model) =>
        model.Graph.Initializers.Any(v => v.Const!.DataType == DataType.Float) || _options.Compute ? null : "the model has no float32 weights to store in half precision";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var half = HalfValues.TypeOf(_options.Format);
        ShapeInference.Run(model);
        var halfNodes = _options.Compute ? HalfNodes(model, context) : new HashSet<Node>();
        var state = new Conversion(graph, half, halfNodes, _options.Format);
        foreach (var v in graph.Initializers.ToList())
            if (v.Const!.DataType == DataType.Float && !graph.Inputs.Contains(v) && v.Uses.Count > 0) state.ConvertInitializer(v);
        if (_options.Compute) state.RetypeActivations(_options.KeepIoTypes);
        graph.RemoveUnusedInitializers();
        if (state.Clamped > 0)
            context.Notes.Add($"{state.Clamped:N0} weights beyond ±{HalfValues.MaxFloat16} were clamped to it (float16 has no larger finite value)");
        var stats = new Dictionary<string, long>
        {
            ["tensors"] = state.Tensors, ["half-nodes"] = halfNodes.Count, ["float-nodes"] = state.FloatNodes, ["casts"] = state.Casts, ["clamped"] = state.Clamped,
        };
        return new PassResult(model, state.Tensors + halfNodes.Count > 0, stats);
    }

    /// <summary>
    /// Ops whose output type an attribute sets (Cast's <c>to</c>, Constant's tensor, the generators' <c>dtype</c>): they stay as
    /// they are, and a half reader of a float32 output reads it through a Cast (folded when the value is constant).
    /// </summary>
    private static readonly HashSet<string> AttributeTyped = new()
    {
        "Cast", "Constant", "ConstantOfShape", "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    };

    /// <summary>The nodes that will compute in half precision; the others that touch float32 values are noted by op type.</summary>
    private HashSet<Node> HalfNodes(Model model, PassContext context)
    {
        var kernels = new HalfKernels(model, _options.Format);
        var result = new HashSet<Node>();
        var kept = new List<(string Op, string Why)>();
        foreach (var node in model.Graph.TopologicalOrder())
        {
            var values = node.Inputs.Concat(node.Outputs).OfType<Value>().ToList();
            if (!values.Any(v => HalfKernels.TypeOf(v) == DataType.Float) || AttributeTyped.Contains(node.OpType)) continue;
            var why = _options.FloatOps?.Contains(node.OpType) == true ? "named to stay float32"
                : node.Subgraphs.Any() ? "it holds subgraphs"
                : values.Any(v => HalfKernels.TypeOf(v) == DataType.Undefined) ? "an element type is unknown"
                : !kernels.Supports(node) ? $"ONNX Runtime's CPU provider has no {_options.Format.ToString().ToLowerInvariant()} kernel for it"
                : null;
            if (why is null) result.Add(node);
            else kept.Add((node.OpType, why));
        }
        if (result.Count > 0)
            context.Notes.Add($"computing in {_options.Format.ToString().ToLowerInvariant()}: {string.Join(", ", result.GroupBy(n => n.OpType).Select(o => $"{o.Key} ×{o.Count()}"))}");
        foreach (var g in kept.GroupBy(k => k.Why))
            context.Notes.Add($"kept in float32 ({g.Key}): {string.Join(", ", g.GroupBy(k => k.Op).Select(o => $"{o.Key} ×{o.Count()}"))}");
        return result;
    }

    /// <summary>The edits of one conversion, with the Casts made so far (one per value and target type).</summary>
    private sealed class Conversion(Graph graph, DataType half, HashSet<Node> halfNodes, HalfFormat format)
    {
        private readonly Dictionary<(Value, DataType), Value> _casts = new();
        private readonly HashSet<Value> _halfValues = new();
        private long _clamped;
        private long _outputCasts;

        public long Tensors { get; private set; }
        public long Casts => _casts.Count + _outputCasts;
        public long Clamped => _clamped;
        public long FloatNodes { get; private set; }

        /// <summary>Stores <paramref name="v"/> in half precision; readers that compute in float32 read it through a Cast.</summary>
        public void ConvertInitializer(Value v)
        {
            var stored = graph.AddInitializer(HalfValues.Convert(v.Const!, format, v.Name + (format == HalfFormat.Float16 ? "_fp16" : "_bf16"), ref _clamped));
            _halfValues.Add(stored);
            Tensors++;
            foreach (var use in v.Uses.ToList())
                use.Node.SetInput(use.Index, halfNodes.Contains(use.Node) ? stored : CastOf(stored, DataType.Float));
            graph.RemoveInitializerIfUnused(v); // layer by layer: the float32 weight goes as soon as nothing reads it
        }

        /// <summary>Half nodes' float32 outputs become half; each read that needs the other type goes through a Cast.</summary>
        public void RetypeActivations(bool keepIo)
        {
            foreach (var input in graph.Inputs.Where(v => v.ElementType == DataType.Float && !v.IsInitializer && !keepIo)) Retype(input);
            var order = graph.TopologicalOrder().ToList();
            foreach (var node in order.Where(halfNodes.Contains))
                foreach (var y in node.Outputs.OfType<Value>().Where(y => y.ElementType == DataType.Float)) Retype(y);
            foreach (var node in order)
            {
                var wantsHalf = halfNodes.Contains(node);
                if (!wantsHalf && node.Inputs.Concat(node.Outputs).Any(v => HalfKernels.TypeOf(v) == DataType.Float)) FloatNodes++;
                for (var i = 0; i < node.Inputs.Count; i++)
                {
                    if (node.Inputs[i] is not { } x || node.OpType == "Cast") continue;  // Cast reads any type
                    var isHalf = _halfValues.Contains(x);
                    if (wantsHalf && !isHalf && HalfKernels.TypeOf(x) == DataType.Float) node.SetInput(i, CastOf(x, half));
                    else if (!wantsHalf && isHalf) node.SetInput(i, CastOf(x, DataType.Float));
                }
            }
            for (var i = 0; i < graph.Outputs.Count; i++)
            {
                var isHalf = _halfValues.Contains(graph.Outputs[i]);
                if (keepIo && isHalf) ReadOutputAs(i, DataType.Float);
                else if (!keepIo && !isHalf && HalfKernels.TypeOf(graph.Outputs[i]) == DataType.Float) ReadOutputAs(i, half);
            }
        }

        private void Retype(Value v)
        {
            v.ElementType = half;
            _halfValues.Add(v);
        }

        /// <summary>The Cast of <paramref name="x"/> to <paramref name="to"/>, made the first time it is asked for.</summary>
        private Value CastOf(Value x, DataType to)
        {
            if (_casts.TryGetValue((x, to), out var existing)) return existing;
            var cast = new Node("Cast", "", graph.UniqueName($"{x.Name}_to_{to.ShortName()}"));
            cast.Attributes.Add(Ir.Attribute.Int("to", (long)to));
            cast.AddInput(x);
            var y = cast.AddOutput(new Value(graph.UniqueName($"{x.Name}_{to.ShortName()}"), to, x.Const?.Shape ?? x.Shape))!;
            if (to == half) _halfValues.Add(y);
            // A Cast of a node's output goes right after the node, so every later reader finds it; of an initializer or input, first.
            if (x.Producer is { } producer && producer.Graph == graph) graph.InsertAfter(producer, cast);
            else graph.InsertBefore(graph.Nodes[0], cast);
            return _casts[(x, to)] = y;
        }

        /// <summary>Graph output <paramref name="index"/> is written in <paramref name="to"/> by a Cast that takes over its name.</summary>
        private void ReadOutputAs(int index, DataType to)
        {
            var v = graph.Outputs[index];
            var name = v.Name;
            v.Name = graph.UniqueName(name + "_" + v.ElementType.ShortName());
            var cast = new Node("Cast", "", graph.UniqueName(name + "_to_" + to.ShortName()));
            cast.Attributes.Add(Ir.Attribute.Int("to", (long)to));
            cast.AddInput(v);
            var y = cast.AddOutput(new Value(name, to, v.Shape))!;
            if (v.Producer is { } producer) graph.InsertAfter(producer, cast); else graph.AddNode(cast);
            graph.Outputs[index] = y;
            _outputCasts++;
        }
    }
}
