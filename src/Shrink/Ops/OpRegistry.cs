namespace Shrink.Ops;

/// <summary>
/// The one place that holds op knowledge, keyed by (domain, op type, opset). Passes and the CLI look
/// ops up here instead of switching on op types.
/// </summary>
public static class OpRegistry
{
    private static readonly Dictionary<(string Domain, string OpType), List<OpSchema>> Schemas = new();

    static OpRegistry()
    {
        Elementwise.Register(Add);
        ConvOps.Register(Add);
        LinearOps.Register(Add);
        ShapeOps.Register(Add);
        ReduceOps.Register(Add);
        PadOps.Register(Add);
        ContribOps.Register(Add);
    }

    /// <summary>Registers a schema (later registrations with a higher <see cref="OpSchema.SinceVersion"/> win for newer opsets).</summary>
    public static void Add(OpSchema schema)
    {
        var key = (Normalize(schema.Domain), schema.OpType);
        if (!Schemas.TryGetValue(key, out var list)) Schemas[key] = list = new List<OpSchema>();
        list.Add(schema);
        list.Sort((a, b) => b.SinceVersion.CompareTo(a.SinceVersion));
    }

    /// <summary>The schema for an op at an opset version, or null when Shrink does not know the op.</summary>
    public static OpSchema? Find(string domain, string opType, long opset = long.MaxValue) =>
        Schemas.TryGetValue((Normalize(domain), opType), out var list)
            ? list.FirstOrDefault(s => s.SinceVersion <= opset) ?? list[^1]
            : null;

    /// <summary>
    /// The newest opset of each standard domain that ONNX Runtime 1.31 runs: ai.onnx 26 and
    /// ai.onnx.ml 5 (it refuses 27 and 6, "under development"). A model importing a newer one is not
    /// a model Shrink can check in ONNX Runtime; the validator reports it.
    /// </summary>
    public static IReadOnlyDictionary<string, long> LatestOpsets { get; } = new Dictionary<string, long> { [""] = 26, ["ai.onnx.ml"] = 5 };

    /// <summary>The newest opset of <paramref name="domain"/> ONNX Runtime runs, or null for a domain without a known limit.</summary>
    public static long? LatestOpset(string domain) => LatestOpsets.TryGetValue(Normalize(domain), out var v) ? v : null;

    /// <summary>Every op type known in the default domain, sorted.</summary>
    public static IReadOnlyList<string> KnownOps => Schemas.Keys.Where(k => k.Domain == "").Select(k => k.OpType).Order().ToArray();

    private static string Normalize(string domain) => domain == "ai.onnx" ? "" : domain;
}
