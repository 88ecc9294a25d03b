namespace Shrink.Techniques;

/// <summary>
/// Techniques by id: the one place the CLI and recipes resolve a stage name (never by reflection over
/// assemblies). <c>Shrink</c> registers the techniques that need no training; <c>Shrink.Training</c> adds its
/// own with <c>TrainingTechniques.Register()</c>. Every registered pass (<see cref="Shrink.Passes.PassRegistry"/>) is
/// also a technique under its own id (<see cref="PassTechnique"/>) unless a registered technique has taken that id.
/// </summary>
public static class TechniqueRegistry
{
    private static readonly Dictionary<string, ITechnique> Entries = new();
    private static readonly Dictionary<string, PassTechnique> PassEntries = new();
    private static readonly object Gate = new();

    /// <summary>The techniques of this assembly, which need no training.</summary>
    static TechniqueRegistry()
    {
        Register(new Passes.Pruning.SensitivityTechnique());
        Register(new QuantizeTechnique());
        Register(new Passes.Deployment.SplitTechnique());
        Register(new Passes.Merging.MergeTechnique());
    }

    /// <summary>The registered techniques' ids and the pass ids, sorted.</summary>
    public static IReadOnlyCollection<string> Ids
    {
        get { lock (Gate) return Entries.Keys.Union(Shrink.Passes.PassRegistry.Ids).Order(StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Adds a technique; registering the same instance type again is a no-op, another one under a taken id is API misuse.</summary>
    public static void Register(ITechnique technique)
    {
        lock (Gate)
        {
            if (Entries.TryGetValue(technique.Id, out var existing))
            {
                if (existing.GetType() == technique.GetType()) return;
                throw new ArgumentException($"technique id '{technique.Id}' is taken by {existing.GetType().Name}", nameof(technique));
            }
            Entries[technique.Id] = technique;
        }
    }

    /// <summary>The technique called <paramref name="id"/> (a registered one, else the pass of that id); an unknown id is an <see cref="OptionsException"/> listing the known ones.</summary>
    public static ITechnique Find(string id)
    {
        lock (Gate)
        {
            if (Entries.TryGetValue(id, out var t)) return t;
            if (PassEntries.TryGetValue(id, out var p)) return p;
            if (Shrink.Passes.PassRegistry.Ids.Contains(id)) return PassEntries[id] = new PassTechnique(id);
        }
        throw new OptionsException($"unknown technique '{Text.Message.Name(id)}'; known techniques: {string.Join(", ", Ids)}");
    }
}
