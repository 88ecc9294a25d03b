using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// The parameters a search chooses, in order; a conditional parameter's parent comes before it and is finite
/// (a list, a switch, an integer range or a float grid), so a configuration is made in one pass: each parameter,
/// when active under the values chosen before it, gets a value. Validated on construction: one
/// <see cref="OptionsException"/> naming the parameter and what is wrong with it.
/// </summary>
public sealed class SearchSpace
{
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    /// <summary>A space of <paramref name="parameters"/> (checked: names, ranges, conditions).</summary>
    public SearchSpace(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
        foreach (var p in Parameters) Add(p);
        Size = Parameters.Where(p => p.Condition is null).Aggregate(1.0, (product, p) => product * Count(p));
        Json = CanonicalJson.Of(Parameters.Select(Describe).ToArray());
        Hash = CanonicalJson.Sha256(Json);
    }

    /// <summary>A space of <paramref name="parameters"/>.</summary>
    public SearchSpace(params Parameter[] parameters) : this((IEnumerable<Parameter>)parameters) { }

    /// <summary>The parameters in order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The parameter named <paramref name="name"/>.</summary>
    public Parameter this[string name] => _byName[name];

    /// <summary>How many distinct configurations the space holds (conditions counted); <see cref="double.PositiveInfinity"/> with a continuous parameter.</summary>
    public double Size { get; }

    /// <summary>The space as canonical JSON (a study keeps it, to refuse resuming with another space).</summary>
    public string Json { get; }

    /// <summary>SHA-256 of <see cref="Json"/>.</summary>
    public string Hash { get; }

    /// <summary>True when <paramref name="parameter"/> is active under the values chosen so far.</summary>
    public bool IsActive(Parameter parameter, IReadOnlyDictionary<string, JsonElement> chosen) =>
        parameter.Condition is not { } c || (chosen.TryGetValue(c.Parent, out var v) && c.Admits(v));

    /// <summary>A configuration drawn uniformly parameter by parameter.</summary>
    public Configuration Sample(SearchRandom random) => Resolve(new Dictionary<string, JsonElement>(), random);

    /// <summary>
    /// The configuration that keeps each of <paramref name="values"/> whose parameter is active, draws a value for
    /// each active parameter not given and drops the inactive ones (what a mutation of a parent needs).
    /// </summary>
    public Configuration Resolve(IReadOnlyDictionary<string, JsonElement> values, SearchRandom random)
    {
        var chosen = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var ordered = new List<KeyValuePair<string, JsonElement>>();
        foreach (var p in Parameters)
        {
            if (!IsActive(p, chosen)) continue;
            var v = values.TryGetValue(p.Name, out var given) && p.Contains(given) ? given : p.Sample(random);
            chosen[p.Name] = v;
            ordered.Add(KeyValuePair.Create(p.Name, v));
        }
        return Configuration.FromElements(ordered);
    }

    /// <summary>Every configuration, in order (finite spaces only: <see cref="Size"/> is finite).</summary>
    public IEnumerable<Configuration> Enumerate()
    {
        if (double.IsInfinity(Size)) throw new InvalidOperationException("a space with a continuous parameter cannot be enumerated");
        return EnumerateFrom(0, []).Select(Configuration.FromElements);
    }

    /// <summary>
    /// <paramref name="configuration"/> checked against the space and put in its order: every active parameter has
    /// a value it can take and no other is given; otherwise an <see cref="OptionsException"/> naming the parameter.
    /// </summary>
    public Configuration Check(Configuration configuration)
    {
        var chosen = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var ordered = new List<KeyValuePair<string, JsonElement>>();
        foreach (var p in Parameters)
        {
            var active = IsActive(p, chosen);
            if (active && !configuration.Has(p.Name)) throw Wrong(p.Name, "has no value; give one");
            if (!active && configuration.Has(p.Name)) throw Wrong(p.Name, "is given but not active (its condition is not met); leave it out");
            if (!active) continue;
            var v = configuration[p.Name];
            if (!p.Contains(v)) throw Wrong(p.Name, $"cannot take {CanonicalJson.Of(v)}; give a value from its range ({p})");
            chosen[p.Name] = v;
            ordered.Add(KeyValuePair.Create(p.Name, v));
        }
        var unknown = configuration.Names.FirstOrDefault(n => !_byName.ContainsKey(n));
        if (unknown is not null) throw Wrong(unknown, "is not a parameter of the space; leave it out");
        return Configuration.FromElements(ordered);
    }

    private static OptionsException Wrong(string name, string problem) =>
        OptionsException.For(nameof(Configuration), $"parameter '{name}' {problem}");

    private void Add(Parameter p)
    {
        p.Validate();
        if (!_byName.TryAdd(p.Name, p))
            throw OptionsException.For(nameof(Parameters), $"hold two parameters named '{p.Name}'; give each its own name");
        if (p.Condition is not { } c) return;
        if (c.Parent == p.Name || !_byName.TryGetValue(c.Parent, out var parent))
            throw OptionsException.For(nameof(Parameter.Condition), $"of parameter '{p.Name}' names '{c.Parent}', which is not a parameter before it; declare the parent first");
        if (double.IsInfinity(parent.Cardinality))
            throw OptionsException.For(nameof(Parameter.Condition), $"of parameter '{p.Name}' hangs on '{c.Parent}', a continuous range; give the parent a step or a list of choices");
        if (c.Values.Count == 0)
            throw OptionsException.For(nameof(Parameter.Condition), $"of parameter '{p.Name}' lists no value of '{c.Parent}'; give at least one");
        foreach (var v in c.Values.Where(v => !parent.Contains(v)))
            throw OptionsException.For(nameof(Parameter.Condition), $"of parameter '{p.Name}' asks for {c.Parent} = {CanonicalJson.Of(v)}, which '{c.Parent}' cannot take");
    }

    /// <summary>
    /// The number of configurations: each parameter has at most one parent, so the parameters form a forest and
    /// the count is the product over its roots of Count(p) = |p| for a parameter without children, else the sum over
    /// p's values v of the product of Count(c) over the children c that v switches on.
    /// </summary>
    private double Count(Parameter p)
    {
        var children = Parameters.Where(c => c.Condition?.Parent == p.Name).ToList();
        if (children.Count == 0) return p.Cardinality;
        return p.Values().Sum(v => children.Where(c => c.Condition!.Admits(v)).Aggregate(1.0, (product, c) => product * Count(c)));
    }

    private IEnumerable<List<KeyValuePair<string, JsonElement>>> EnumerateFrom(int index, Dictionary<string, JsonElement> chosen)
    {
        if (index == Parameters.Count)
        {
            yield return Parameters.Where(p => chosen.ContainsKey(p.Name)).Select(p => KeyValuePair.Create(p.Name, chosen[p.Name])).ToList();
            yield break;
        }
        var p = Parameters[index];
        var values = IsActive(p, chosen) ? p.Values() : [];
        var any = false;
        foreach (var v in values)
        {
            any = true;
            chosen[p.Name] = v;
            foreach (var c in EnumerateFrom(index + 1, chosen)) yield return c;
            chosen.Remove(p.Name);
        }
        if (!any)
            foreach (var c in EnumerateFrom(index + 1, chosen)) yield return c;
    }

    private static Dictionary<string, object?> Describe(Parameter p)
    {
        var d = p.Describe();
        d["name"] = p.Name;
        d["kind"] = p.Kind;
        if (p.Condition is { } c) d["when"] = new Dictionary<string, object?> { ["parent"] = c.Parent, ["values"] = c.Values };
        return d;
    }
}
