using Shrink.Ir;

namespace Shrink.Runtime;

/// <summary>
/// Integer graph inputs that index the rows of constant tables — token ids into a word embedding, as every text model
/// takes them — found from the graph: every consumer of the input is a Gather on axis 0 of a constant table, reached
/// directly or through Casts and Reshapes/Unsqueezes/Flattens; uses that read only the shape (Shape, Size) do not count.
/// </summary>
internal static class IndexInputs
{
    /// <summary>Each such input's name with the row count of the smallest table it indexes (random ids below it stay in range).</summary>
    public static IReadOnlyDictionary<string, long> Bounds(Model model)
    {
        var bounds = new Dictionary<string, long>();
        foreach (var input in model.Graph.Inputs.Where(v => v.ElementType is DataType.Int64 or DataType.Int32 && Graph.ConstantOf(v) is null))
            if (Rows(input, depth: 0) is { } rows)
                bounds[input.Name] = rows;
        return bounds;
    }

    /// <summary>The fewest rows over every use of <paramref name="v"/>, or null when one use is not an index into a constant table.</summary>
    private static long? Rows(Value v, int depth)
    {
        if (v.Uses.Count == 0 || depth > 4) return null;
        long? fewest = null;
        foreach (var (node, index) in v.Uses)
        {
            if (node.OpType is "Shape" or "Size") continue;   // reads the shape only
            long? rows = node.OpType switch
            {
                "Gather" when index == 1 && node.Inputs[0] != v && node.GetInt("axis", 0) == 0
                    && Graph.ConstantOf(node.Inputs[0]!) is { Dims.Length: > 0 } table => table.Dims[0],
                "Cast" or "Reshape" or "Unsqueeze" or "Flatten" or "Squeeze" when index == 0 && node.Outputs.Count == 1 && node.Outputs[0] is { } o
                    => Rows(o, depth + 1),
                _ => null,
            };
            if (rows is not { } r || r <= 0) return null;
            fewest = fewest is { } f ? Math.Min(f, r) : r;
        }
        return fewest;   // null when only shapes were read
    }
}
