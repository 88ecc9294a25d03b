using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// One named, typed parameter of a <see cref="SearchSpace"/>: a list of choices (<see cref="CategoricalParameter"/>),
/// an integer range (<see cref="IntParameter"/>), a float range (<see cref="FloatParameter"/>: linear or log,
/// optionally on a grid) or a switch (<see cref="BoolParameter"/>). Values are JSON values (as read back from
/// <see cref="CanonicalJson"/>), so a configuration read from a trial store equals the one proposed.
/// A parameter with a <see cref="Condition"/> is active only when its parent is active and has one of the given values.
/// </summary>
public abstract record Parameter(string Name)
{
    /// <summary>When the parameter is active (null: always).</summary>
    public Condition? Condition { get; init; }

    /// <summary>"categorical", "int", "float" or "bool": the kind named in the space's JSON.</summary>
    public abstract string Kind { get; }

    /// <summary>How many values the parameter can take; <see cref="double.PositiveInfinity"/> for a continuous range.</summary>
    public abstract double Cardinality { get; }

    /// <summary>Every value in order (finite parameters only).</summary>
    public abstract IEnumerable<JsonElement> Values();

    /// <summary>True when <paramref name="value"/> is one this parameter can take.</summary>
    public abstract bool Contains(JsonElement value);

    /// <summary>The same parameter, active only when <paramref name="parent"/> has one of <paramref name="values"/>.</summary>
    public Parameter OnlyWhen(string parent, params object?[] values) => this with { Condition = Condition.On(parent, values) };

    /// <summary>
    /// One parameter per layer group from a template: <c>PerGroup(Float("sparsity", 0, 0.9), groups)</c> gives
    /// "sparsity[conv1]", "sparsity[conv2]", … with the template's range and condition.
    /// </summary>
    public static IEnumerable<Parameter> PerGroup(Parameter template, IEnumerable<string> groups) =>
        groups.Select(g => template with { Name = $"{template.Name}[{g}]" });

    /// <summary>A choice among <paramref name="choices"/> (any JSON-able values, distinct).</summary>
    public static CategoricalParameter Choice(string name, params object?[] choices) =>
        new(name, choices.Select(CanonicalJson.Normalize).ToArray());

    /// <summary>The integers <paramref name="low"/>, low + step, … up to <paramref name="high"/>.</summary>
    public static IntParameter Int(string name, long low, long high, long step = 1) => new(name, low, high, step);

    /// <summary>A float in [<paramref name="low"/>, <paramref name="high"/>]: uniform, or log-uniform, or on a grid of <paramref name="step"/>.</summary>
    public static FloatParameter Float(string name, double low, double high, bool log = false, double? step = null) => new(name, low, high, log, step);

    /// <summary>False or true.</summary>
    public static BoolParameter Bool(string name) => new(name);

    /// <summary>A uniformly drawn value.</summary>
    internal abstract JsonElement Sample(SearchRandom random);

    /// <summary>
    /// A value other than <paramref name="current"/> (the parameter has at least two): any other value, or with
    /// <paramref name="local"/> a near one (a step or two on a range, a tenth of the range for a float).
    /// </summary>
    internal abstract JsonElement Mutate(JsonElement current, SearchRandom random, bool local);

    /// <summary>Throws <see cref="OptionsException"/> naming the property that is wrong.</summary>
    internal virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
            throw OptionsException.For(nameof(Name), "of a parameter is empty; give every parameter a name");
    }

    /// <summary>The parameter's fields for the space's JSON (kind, name and condition are added by the space).</summary>
    internal abstract Dictionary<string, object?> Describe();

    /// <summary>Throws <see cref="OptionsException"/> about <paramref name="property"/> of this parameter.</summary>
    protected OptionsException Invalid(string property, string problem) =>
        OptionsException.For(property, $"of parameter '{Name}' {problem}");
}

/// <summary>A parameter active only when <see cref="Parent"/> is active and has one of <see cref="Values"/>.</summary>
public sealed record Condition(string Parent, IReadOnlyList<JsonElement> Values)
{
    /// <summary>Active when <paramref name="parent"/> has one of <paramref name="values"/>.</summary>
    public static Condition On(string parent, params object?[] values) => new(parent, values.Select(CanonicalJson.Normalize).ToArray());

    /// <summary>True when <paramref name="value"/> is one of <see cref="Values"/>.</summary>
    public bool Admits(JsonElement value)
    {
        var canonical = CanonicalJson.Of(value);
        return Values.Any(v => CanonicalJson.Of(v) == canonical);
    }
}
