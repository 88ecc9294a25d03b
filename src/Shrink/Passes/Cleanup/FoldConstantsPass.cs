using System.Runtime.InteropServices;
using Shrink.Ir;
using Shrink.Ops;
using Shrink.Runtime;

namespace Shrink.Passes.Cleanup;

/// <summary>
/// <c>fold-constants</c>: computes every node whose inputs are all constants (initializers, Constant
/// nodes, other foldable nodes; Shape of a value whose shape is fully known) once, in ONNX Runtime,
/// and replaces its outputs with initializers: weight transposes and reshapes from exporters, shape
/// arithmetic, Constant nodes. Run before quantizing so the quantizer sees plain initializers.
/// Random ops and nodes with subgraphs are never folded; a result over <see cref="MaxElements"/> elements
/// that is larger than the constants it is computed from stays a computation (an Expand or a Tile would
/// otherwise bloat the file). Needs no data, no training; shapes are unchanged; outputs equal the
/// original's. Counters: <c>nodes</c> folded, <c>values</c> made initializers.
/// </summary>
public sealed class FoldConstantsPass : Pass
{
    private static readonly HashSet<string> Random = new() { "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout" };

    /// <summary>Results larger than this (and than their constant inputs) are not materialized.</summary>
    public const long MaxElements = 1 << 20;

    public override string Id => "fold-constants";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        ShapeInference.Run(model);
        var foldable = new HashSet<Node>();
        var constant = new HashSet<Value>(graph.Initializers.Where(v => !graph.Inputs.Contains(v)));
        var shapes = new Dictionary<Value, Tensor>(); // Shape of a static value: known without running anything
        foreach (var node in graph.TopologicalOrder())
        {
            if (!node.IsDefaultDomain || Random.Contains(node.OpType) || node.Subgraphs.Any() || node.Outputs.Count == 0) continue;
            if (node.OpType == "Shape" && node.Inputs[0]?.Shape is { IsFullyKnown: true } s && node.GetAttribute("start") is null && node.GetAttribute("end") is null)
            {
                var dims = s.ToArray();
                shapes[node.Outputs[0]!] = Tensor.FromInt64s(node.Outputs[0]!.Name, new long[] { dims.Length }, dims);
            }
            else if (!node.Inputs.All(v => v is null || v.Name.Length == 0 || constant.Contains(v))) continue;
            foldable.Add(node);
            foreach (var o in node.Outputs.OfType<Value>()) constant.Add(o);
        }
        // Values that leave the foldable region: read by a node that stays (a constant graph output stays computed).
        var boundary = foldable.SelectMany(n => n.Outputs.OfType<Value>())
            .Where(v => !graph.Outputs.Contains(v) && v.Uses.Any(u => !foldable.Contains(u.Node))).ToList();
        var results = new Dictionary<Value, Tensor>();
        foreach (var v in boundary.Where(shapes.ContainsKey)) results[v] = shapes[v];
        var computed = boundary.Where(v => !shapes.ContainsKey(v) && v.ElementType != DataType.Undefined).ToList();
        if (computed.Count > 0)
            foreach (var (v, t) in Evaluate(model, computed, shapes, context.Runner)) results[v] = t;

        var folded = 0;
        foreach (var (v, t) in results)
        {
            if (t.ElementCount > MaxElements && t.ElementCount > InputElements(v, foldable))
            {
                context.Notes.Add($"not folded: '{v.Name}' would be a constant of {t.ElementCount:N0} elements, larger than what it is computed from");
                continue;
            }
            t.Name = v.Name;
            var replacement = graph.AddInitializer(t);
            graph.ReplaceAllUsesWith(v, replacement);
            folded++;
        }
        var removed = 0;
        foreach (var node in graph.TopologicalOrder().Reverse().Where(foldable.Contains))
            if (node.Outputs.OfType<Value>().All(o => o.Uses.Count == 0 && !graph.Outputs.Contains(o)))
            {
                graph.RemoveNode(node);
                removed++;
            }
        graph.RemoveUnusedInitializers();
        return new PassResult(model, removed > 0, new Dictionary<string, long> { ["nodes"] = removed, ["values"] = folded });
    }

    /// <summary>Elements of the initializers the foldable region behind <paramref name="v"/> reads.</summary>
    private static long InputElements(Value v, HashSet<Node> foldable)
    {
        var seen = new HashSet<Value>();
        var stack = new Stack<Value>(new[] { v });
        long total = 0;
        while (stack.Count > 0)
        {
            var x = stack.Pop();
            if (!seen.Add(x)) continue;
            if (x.Const is { } c) total += c.ElementCount;
            else if (x.Producer is { } p && foldable.Contains(p))
                foreach (var i in p.Inputs.OfType<Value>()) stack.Push(i);
        }
        return total;
    }

    /// <summary>Runs the constant part of the graph in ONNX Runtime and returns the requested values.</summary>
    private static IEnumerable<(Value, Tensor)> Evaluate(Model model, List<Value> values, Dictionary<Value, Tensor> shapes, RunnerOptions runner)
    {
        var copy = model.Clone();
        var g = copy.Graph;
        // Shapes already known become constants in the copy, so nothing there reads the real inputs.
        foreach (var (v, t) in shapes)
            if (g.FindValue(v.Name) is { Producer: { } p } cv && p.OpType == "Shape")
                g.ReplaceAllUsesWith(cv, g.AddInitializer(t.Clone(v.Name + "_static")));
        g.Outputs.Clear();
        foreach (var v in values) g.Outputs.Add(g.FindValue(v.Name)!);
        new RemoveUnusedPass().RunInPlace(copy, new PassContext());
        g.Inputs.RemoveAll(i => i.Uses.Count == 0 && !g.Initializers.Contains(i));
        // One thread, and none of the caller's profiling or optimized-model files: the constants are computed the same way everywhere.
        using var session = OnnxRunner.FromModel(copy, runner with { Threads = 1, OptimizedModelPath = null, ProfilePrefix = null }, "constant subgraph");
        var outputs = session.Run(Array.Empty<HostTensor>());
        foreach (var v in values)
            if (outputs.FirstOrDefault(o => o.Name == v.Name) is { } o && ToTensor(o) is { } t)
                yield return (v, t);
    }

    private static Tensor? ToTensor(HostTensor h)
    {
        (DataType Type, byte[] Bytes)? raw = h.Data switch
        {
            float[] a => (DataType.Float, MemoryMarshal.AsBytes(a.AsSpan()).ToArray()),
            double[] a => (DataType.Double, MemoryMarshal.AsBytes(a.AsSpan()).ToArray()),
            long[] a => (DataType.Int64, MemoryMarshal.AsBytes(a.AsSpan()).ToArray()),
            int[] a => (DataType.Int32, MemoryMarshal.AsBytes(a.AsSpan()).ToArray()),
            byte[] a => (DataType.UInt8, (byte[])a.Clone()),
            sbyte[] a => (DataType.Int8, MemoryMarshal.AsBytes(a.AsSpan()).ToArray()),
            bool[] a => (DataType.Bool, a.Select(b => b ? (byte)1 : (byte)0).ToArray()),
            _ => null,
        };
        return raw is { } r ? new Tensor(h.Name, r.Type, h.Shape, r.Bytes) : null;
    }
}
