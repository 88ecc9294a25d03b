using System.Globalization;
using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// A float in [<see cref="Low"/>, <see cref="High"/>]: uniform, log-uniform (<see cref="Log"/>), or on the grid
/// Low, Low + <see cref="Step"/>, … ≤ High. Grid values are computed in decimal (Low + k·Step), so a step of 0.1
/// gives 0.3, not 0.30000000000000004, and the configuration's hash does not hang on float rounding.
/// </summary>
public sealed record FloatParameter(string Name, double Low, double High, bool Log = false, double? Step = null) : Parameter(Name)
{
    public override string Kind => "float";

    public override double Cardinality => Step is { } ? Count : Low == High ? 1 : double.PositiveInfinity;

    private long Count => Step is { } s ? (long)Math.Floor(((decimal)High - (decimal)Low) / (decimal)s * 1.000000001m) + 1 : 1;

    public override IEnumerable<JsonElement> Values()
    {
        if (double.IsInfinity(Cardinality)) throw new InvalidOperationException($"parameter '{Name}' is continuous");
        if (Step is null) { yield return CanonicalJson.Normalize(Low); yield break; }
        for (long k = 0; k < Count; k++) yield return At(k);
    }

    public override bool Contains(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number) return false;
        var v = value.GetDouble();
        if (v < Low || v > High) return false;
        return Step is not { } s || CanonicalJson.Of(At(Math.Clamp((long)Math.Round((v - Low) / s), 0, Count - 1))) == CanonicalJson.Of(value);
    }

    internal override JsonElement Sample(SearchRandom random)
    {
        if (Step is { }) return At(random.NextLong(Count));
        var u = random.NextDouble();
        return CanonicalJson.Normalize(Log ? Math.Exp(Math.Log(Low) + u * (Math.Log(High) - Math.Log(Low))) : Low + u * (High - Low));
    }

    internal override JsonElement Mutate(JsonElement current, SearchRandom random, bool local)
    {
        if (Step is { } s) return Near((long)Math.Round((current.GetDouble() - Low) / s), random, local);
        var canonical = CanonicalJson.Of(current);
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var next = local ? Local(current.GetDouble(), random) : Sample(random);
            if (CanonicalJson.Of(next) != canonical) return next;
        }
        return CanonicalJson.Normalize(current.GetDouble() == Low ? High : Low);
    }

    internal override void Validate()
    {
        base.Validate();
        if (!double.IsFinite(Low)) throw Invalid(nameof(Low), $"must be a finite number, got {Low}");
        if (!double.IsFinite(High) || High < Low) throw Invalid(nameof(High), $"must be a finite number at least low ({Low}), got {High}");
        if (Log && Low <= 0) throw Invalid(nameof(Low), $"must be above 0 on a log scale, got {Low}");
        if (Step is not { } s) return;
        if (Log) throw Invalid(nameof(Step), "cannot be given on a log scale; give a list of choices instead");
        if (!double.IsFinite(s) || s <= 0) throw Invalid(nameof(Step), $"must be above 0, got {s}");
        if (Math.Abs(Low) > 1e15 || Math.Abs(High) > 1e15 || s < 1e-12)
            throw Invalid(nameof(Step), "needs low and high within ±1e15 and a step of at least 1e-12");
    }

    internal override Dictionary<string, object?> Describe() => new() { ["low"] = Low, ["high"] = High, ["log"] = Log, ["step"] = Step };

    private JsonElement At(long k) => CanonicalJson.Normalize((double)((decimal)Low + k * (decimal)Step!.Value));

    private JsonElement Near(long at, SearchRandom random, bool local)
    {
        if (!local)
        {
            var other = random.NextLong(Count - 1);
            return At(other >= at ? other + 1 : other);
        }
        var offset = 1 + random.NextLong(Math.Max(1, (Count - 1) / 10));
        var to = random.NextInt(2) == 0 ? at - offset : at + offset;
        if (to < 0 || to >= Count) to = at + (to < 0 ? offset : -offset);
        return At(Math.Clamp(to, 0, Count - 1));
    }

    private JsonElement Local(double current, SearchRandom random)
    {
        var (lo, hi, x) = Log ? (Math.Log(Low), Math.Log(High), Math.Log(current)) : (Low, High, current);
        var next = x + random.NextTriangular() * 0.1 * (hi - lo);
        if (next < lo) next = 2 * lo - next;  // reflected into the range
        if (next > hi) next = 2 * hi - next;
        next = Math.Clamp(next, lo, hi);
        return CanonicalJson.Normalize(Log ? Math.Clamp(Math.Exp(next), Low, High) : next);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} in [{Low}, {High}]{(Log ? " log" : "")}{(Step is { } s ? $" step {s}" : "")}");
}
