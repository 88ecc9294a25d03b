using Google.Protobuf;
using Shrink.Ir;

namespace Shrink.Runtime;

/// <summary>
/// Integer graph inputs that index the rows of constant tables — token ids into a word embedding, as every text model
/// takes them — found from the graph: every consumer of the input is a Gather on axis 0 of a constant table, reached
/// directly or through Casts and Reshapes/Unsqueezes/Flattens; uses that read only the shape (Shape, Size) do not count.
/// Read from a model in memory, or from a file's outline (<c>onnx_outline.proto</c>: the wiring and the constants'
/// shapes), which skips the weights instead of reading them.
/// </summary>
internal static class IndexInputs
{
    /// <summary>Each such input's name with the row count of the smallest table it indexes (random ids below it stay in range).</summary>
    public static IReadOnlyDictionary<string, long> Bounds(Model model) => Bounds(OutlineOf(model));

    /// <summary>
    /// <see cref="Bounds(Model)"/> of the model file at <paramref name="path"/>, read from its outline (no weight is read
    /// into memory); empty when the file is not a readable ONNX model, as then no input is known to index a table.
    /// </summary>
    public static IReadOnlyDictionary<string, long> Bounds(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var proto = Onnx.Outline.Model.Parser.WithDiscardUnknownFields(true).ParseFrom(fs);
            return proto.Graph is { } g ? Bounds(OutlineOf(g)) : new Dictionary<string, long>();
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            return new Dictionary<string, long>();
        }
    }

    /// <summary>One use of a value: the node's op type, the input it is, the node's first input (a Gather's table), a Gather's axis, and the node's output when it has exactly one.</summary>
    private sealed record Use(string OpType, int Index, string? First, long Axis, string? Output);

    /// <summary>The graph as read here: the integer inputs that are not constants, each value's uses (in every graph) by name, and the first dimension of each constant of rank ≥ 1 by name.</summary>
    private sealed record Outline(IReadOnlyList<string> Inputs, ILookup<string, Use> Uses, IReadOnlyDictionary<string, long> Rows);

    private static Dictionary<string, long> Bounds(Outline outline)
    {
        var bounds = new Dictionary<string, long>();
        foreach (var input in outline.Inputs)
            if (Rows(outline, input, depth: 0) is { } rows)
                bounds[input] = rows;
        return bounds;
    }

    /// <summary>The fewest rows over every use of <paramref name="v"/>, or null when one use is not an index into a constant table.</summary>
    private static long? Rows(Outline outline, string v, int depth)
    {
        var uses = outline.Uses[v].ToList();
        if (uses.Count == 0 || depth > 4) return null;
        long? fewest = null;
        foreach (var use in uses)
        {
            if (use.OpType is "Shape" or "Size") continue;   // reads the shape only
            long? rows = use.OpType switch
            {
                "Gather" when use.Index == 1 && use.First != v && use.Axis == 0 && use.First is { } table
                    && outline.Rows.TryGetValue(table, out var r0) => r0,
                "Cast" or "Reshape" or "Unsqueeze" or "Flatten" or "Squeeze" when use.Index == 0 && use.Output is { } o => Rows(outline, o, depth + 1),
                _ => null,
            };
            if (rows is not { } r || r <= 0) return null;
            fewest = fewest is { } f ? Math.Min(f, r) : r;
        }
        return fewest;   // null when only shapes were read
    }

    private static Outline OutlineOf(Model model)
    {
        var graphs = model.AllGraphs().ToList();
        var nodes = graphs.SelectMany(g => g.Nodes).ToList();
        var uses = nodes.SelectMany(n => n.Inputs.Select((v, i) => (v, Use: new Use(n.OpType, i, n.Inputs[0]?.Name,
            n.OpType == "Gather" ? n.GetInt("axis", 0) : 0, n.Outputs.Count == 1 ? n.Outputs[0]?.Name : null))))
            .Where(u => u.v is not null).ToLookup(u => u.v!.Name, u => u.Use);
        var rows = new Dictionary<string, long>();
        foreach (var v in graphs.SelectMany(g => g.Initializers.Concat(g.Nodes.Where(n => n.OpType == "Constant").SelectMany(n => n.Outputs.OfType<Value>()))))
            if (Graph.ConstantOf(v) is { Dims.Length: > 0 } t) rows[v.Name] = t.Dims[0];
        var inputs = model.Graph.Inputs.Where(v => v.ElementType is DataType.Int64 or DataType.Int32 && Graph.ConstantOf(v) is null).Select(v => v.Name).ToList();
        return new Outline(inputs, uses, rows);
    }

    private static Outline OutlineOf(Onnx.Outline.Graph top)
    {
        var graphs = new List<Onnx.Outline.Graph>();
        void Collect(Onnx.Outline.Graph g)
        {
            graphs.Add(g);
            foreach (var a in g.Node.SelectMany(n => n.Attribute))
            {
                if (a.G is { } sub) Collect(sub);
                foreach (var s in a.Graphs) Collect(s);
            }
        }
        Collect(top);
        var uses = graphs.SelectMany(g => g.Node).SelectMany(n => n.Input.Select((name, i) => (name, Use: new Use(n.OpType, i, n.Input[0].Length > 0 ? n.Input[0] : null,
            n.OpType == "Gather" ? n.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 0 : 0, n.Output.Count == 1 && n.Output[0].Length > 0 ? n.Output[0] : null))))
            .Where(u => u.name.Length > 0).ToLookup(u => u.name, u => u.Use);
        var rows = new Dictionary<string, long>();
        foreach (var t in graphs.SelectMany(g => g.Initializer).Where(t => t.Dims.Count > 0)) rows[t.Name] = t.Dims[0];
        foreach (var n in graphs.SelectMany(g => g.Node).Where(n => n.OpType == "Constant" && n.Domain is "" or "ai.onnx" && n.Output.Count == 1))
            if (n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { Dims.Count: > 0 } t) rows[n.Output[0]] = t.Dims[0];
        var constants = top.Initializer.Select(t => t.Name).ToHashSet();
        var inputs = top.Input.Where(v => (DataType)(v.Type?.TensorType?.ElemType ?? 0) is DataType.Int64 or DataType.Int32 && !constants.Contains(v.Name)).Select(v => v.Name).ToList();
        return new Outline(inputs, uses, rows);
    }
}
