using System.Text.Json;

namespace Shrink.Search;

/// <summary>A configuration with one parameter changed: the move of evolution and annealing.</summary>
public static class Mutation
{
    /// <summary>
    /// <paramref name="configuration"/> with one active parameter that has another value changed (any other value,
    /// or with <paramref name="local"/> a near one); conditional parameters it switches on get drawn values, those it
    /// switches off are dropped. Null when no parameter can change.
    /// </summary>
    public static Configuration? One(SearchSpace space, Configuration configuration, SearchRandom random, bool local)
    {
        var mutable = space.Parameters.Where(p => configuration.Has(p.Name) && p.Cardinality > 1).ToList();
        if (mutable.Count == 0) return null;
        var p = mutable[random.NextInt(mutable.Count)];
        var values = configuration.Values.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal);
        values[p.Name] = p.Mutate(configuration[p.Name], random, local);
        return space.Resolve(values, random);
    }
}
