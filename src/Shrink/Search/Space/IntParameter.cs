using System.Globalization;
using System.Text.Json;

namespace Shrink.Search;

/// <summary>The integers <see cref="Low"/>, Low + <see cref="Step"/>, … up to <see cref="High"/> (included when on the grid).</summary>
public sealed record IntParameter(string Name, long Low, long High, long Step = 1) : Parameter(Name)
{
    public override string Kind => "int";

    public override double Cardinality => (double)Count;

    private long Count => (High - Low) / Step + 1;

    public override IEnumerable<JsonElement> Values()
    {
        for (long k = 0; k < Count; k++) yield return At(k);
    }

    public override bool Contains(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var v) && v >= Low && v <= High && (v - Low) % Step == 0;

    internal override JsonElement Sample(SearchRandom random) => At(random.NextLong(Count));

    internal override JsonElement Mutate(JsonElement current, SearchRandom random, bool local)
    {
        var at = (current.GetInt64() - Low) / Step;
        if (!local)
        {
            var other = random.NextLong(Count - 1);
            return At(other >= at ? other + 1 : other);
        }
        var reach = Math.Max(1, (Count - 1) / 10);  // a tenth of the range, at least one step
        var offset = 1 + random.NextLong(reach);
        var to = random.NextInt(2) == 0 ? at - offset : at + offset;
        if (to < 0 || to >= Count) to = at + (to < 0 ? offset : -offset);
        return At(Math.Clamp(to, 0, Count - 1));
    }

    internal override void Validate()
    {
        base.Validate();
        if (Step < 1) throw Invalid(nameof(Step), $"must be at least 1, got {Step}");
        if (High < Low) throw Invalid(nameof(High), $"must be at least low ({Low}), got {High}");
        if (High - Low < 0) throw Invalid(nameof(High), "is too far from low; narrow the range");  // overflow
    }

    internal override Dictionary<string, object?> Describe() => new() { ["low"] = Low, ["high"] = High, ["step"] = Step };

    private JsonElement At(long k) => CanonicalJson.Normalize(Low + k * Step);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} in [{Low}, {High}] step {Step}");
}
