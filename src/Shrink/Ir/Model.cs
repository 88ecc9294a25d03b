namespace Shrink.Ir;

/// <summary>
/// A model: the main graph plus the ONNX model header (IR version, opset imports, producer, metadata).
/// Parts of the file the IR does not model (functions, training info) are kept and written back unchanged.
/// </summary>
public sealed class Model
{
    public Model(Graph graph) => Graph = graph;

    public Graph Graph { get; set; }
    public long IrVersion { get; set; } = 8;

    /// <summary>Opset version per domain, in file order ("" is the default ONNX domain).</summary>
    public List<KeyValuePair<string, long>> OpsetImports { get; } = new();

    public string? ProducerName { get; set; }
    public string? ProducerVersion { get; set; }
    public string? Domain { get; set; }
    public long? ModelVersion { get; set; }
    public string? DocString { get; set; }

    /// <summary>Metadata entries in file order.</summary>
    public List<KeyValuePair<string, string>> Metadata { get; } = new();

    internal Google.Protobuf.IMessage? Residue { get; set; }

    /// <summary>The opset version imported for <paramref name="domain"/> ("" or "ai.onnx" for ONNX), or null.</summary>
    public long? OpsetVersion(string domain = "")
    {
        var d = domain == "ai.onnx" ? "" : domain;
        foreach (var (k, v) in OpsetImports)
            if ((k == "ai.onnx" ? "" : k) == d) return v;
        return null;
    }

    /// <summary>The default-domain opset version (ONNX operators).</summary>
    public long DefaultOpset => OpsetVersion("") ?? 0;

    /// <summary>Sets the opset version for a domain (adds the import when missing).</summary>
    public void SetOpset(string domain, long version)
    {
        var i = OpsetImports.FindIndex(kv => kv.Key == domain);
        if (i >= 0) OpsetImports[i] = new(domain, version); else OpsetImports.Add(new(domain, version));
    }

    /// <summary>Sets a metadata entry (replaces an existing key).</summary>
    public void SetMetadata(string key, string value)
    {
        var i = Metadata.FindIndex(kv => kv.Key == key);
        if (i >= 0) Metadata[i] = new(key, value); else Metadata.Add(new(key, value));
    }

    /// <summary>
    /// A deep copy in memory: graphs and subgraphs, nodes, values with their types and shapes, initializers
    /// with their data, attributes, metadata, opset imports and the fields the IR keeps as residue. Editing
    /// the copy leaves this model as it is, and the copy writes the same ONNX bytes.
    /// </summary>
    public Model Clone() => new Cloner().Model(this);

    /// <summary>Every graph: the main graph and, recursively, subgraphs in node attributes.</summary>
    public IEnumerable<Graph> AllGraphs() => Enumerate(Graph);

    private static IEnumerable<Graph> Enumerate(Graph g) =>
        new[] { g }.Concat(g.Nodes.SelectMany(n => n.Subgraphs).SelectMany(Enumerate));
}
