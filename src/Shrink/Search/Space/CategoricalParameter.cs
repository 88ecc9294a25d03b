using System.Text.Json;

namespace Shrink.Search;

/// <summary>One of a list of distinct JSON values (strings, numbers, lists, objects): bit widths, methods, orders.</summary>
public sealed record CategoricalParameter(string Name, IReadOnlyList<JsonElement> Choices) : Parameter(Name)
{
    public override string Kind => "categorical";

    public override double Cardinality => Choices.Count;

    public override IEnumerable<JsonElement> Values() => Choices;

    public override bool Contains(JsonElement value) => IndexOf(value) >= 0;

    internal override JsonElement Sample(SearchRandom random) => Choices[random.NextInt(Choices.Count)];

    internal override JsonElement Mutate(JsonElement current, SearchRandom random, bool local)
    {
        var at = IndexOf(current);
        var other = random.NextInt(Choices.Count - 1);  // uniform over the others: choices have no order to be near in
        return Choices[other >= at && at >= 0 ? other + 1 : other];
    }

    internal override void Validate()
    {
        base.Validate();
        if (Choices.Count == 0) throw Invalid(nameof(Choices), "is empty; give at least one choice");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in Choices)
            if (!seen.Add(CanonicalJson.Of(c)))
                throw Invalid(nameof(Choices), $"lists {CanonicalJson.Of(c)} twice; give each choice once");
    }

    internal override Dictionary<string, object?> Describe() => new() { ["choices"] = Choices };

    private int IndexOf(JsonElement value)
    {
        var canonical = CanonicalJson.Of(value);
        for (var i = 0; i < Choices.Count; i++)
            if (CanonicalJson.Of(Choices[i]) == canonical) return i;
        return -1;
    }
}

/// <summary>False or true.</summary>
public sealed record BoolParameter(string Name) : Parameter(Name)
{
    private static readonly JsonElement[] Both = [CanonicalJson.Normalize(false), CanonicalJson.Normalize(true)];

    public override string Kind => "bool";

    public override double Cardinality => 2;

    public override IEnumerable<JsonElement> Values() => Both;

    public override bool Contains(JsonElement value) => value.ValueKind is JsonValueKind.True or JsonValueKind.False;

    internal override JsonElement Sample(SearchRandom random) => Both[random.NextInt(2)];

    internal override JsonElement Mutate(JsonElement current, SearchRandom random, bool local) =>
        Both[current.ValueKind == JsonValueKind.True ? 0 : 1];

    internal override Dictionary<string, object?> Describe() => [];
}
