using Shrink.Ir;

namespace Shrink.Onnx;

/// <summary>
/// Name resolution while reading one graph: names defined here, then in enclosing graphs (subgraphs
/// read outer values). A name read before it is produced gets a placeholder value that the producer
/// claims later; one never produced stays dangling and is reported by the validator.
/// </summary>
internal sealed class Scope
{
    private readonly Dictionary<string, Value> _values = new();
    private readonly Scope? _outer;

    public Scope(Scope? outer) => _outer = outer;

    public Value? FindLocal(string name) => _values.GetValueOrDefault(name);

    public Value Define(Value v, string where)
    {
        if (_values.TryGetValue(v.Name, out var existing) && (existing.Producer is not null || existing.Const is not null))
            throw new ModelFormatException($"{where}: value '{v.Name}' is defined twice; names in an ONNX graph must be unique");
        _values[v.Name] = v;
        return v;
    }

    /// <summary>The value a node output names: a placeholder created by an earlier read, or a new value.</summary>
    public Value DefineOutput(string name, string where)
    {
        if (_values.TryGetValue(name, out var v))
        {
            if (v.Producer is not null || v.Const is not null || IsDeclaredInput(v))
                throw new ModelFormatException($"{where}: value '{name}' is produced twice (also by '{v.Producer?.DisplayName ?? "an input or initializer"}'); names in an ONNX graph must be unique");
            return v;
        }
        return _values[name] = new Value(name);
    }

    public Value Lookup(string name)
    {
        for (var s = this; s is not null; s = s._outer)
            if (s._values.TryGetValue(name, out var v)) return v;
        return _values[name] = new Value(name);
    }

    /// <summary>For value_info entries: the value if it exists anywhere in scope, else a value detached from the graph.</summary>
    public Value LookupOrDetached(string name)
    {
        for (var s = this; s is not null; s = s._outer)
            if (s._values.TryGetValue(name, out var v)) return v;
        return new Value(name);
    }

    /// <summary>Defines a graph input.</summary>
    public Value DefineInput(Value v, string where)
    {
        Define(v, where);
        _inputs.Add(v);
        return v;
    }

    private readonly HashSet<Value> _inputs = new();
    private bool IsDeclaredInput(Value v) => _inputs.Contains(v);
}
