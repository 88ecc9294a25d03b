namespace Shrink.Techniques;

/// <summary>
/// Techniques by id: the one place the CLI and recipes resolve a stage name (never by reflection over
/// assemblies). <c>Shrink</c> registers the techniques that need no training; <c>Shrink.Training</c> adds its
/// own with <c>TrainingTechniques.Register()</c>.
/// </summary>
public static class TechniqueRegistry
{
    private static readonly Dictionary<string, ITechnique> Entries = new();
    private static readonly object Gate = new();

    /// <summary>The techniques of <c>Shrink</c> (no training needed).</summary>
    static TechniqueRegistry()
    {
        Register(new QuantizeTechnique());
    }

    public static IReadOnlyCollection<string> Ids
    {
        get { lock (Gate) return Entries.Keys.Order().ToList(); }
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

    /// <summary>The technique called <paramref name="id"/>; an unknown id is an <see cref="OptionsException"/> listing the known ones.</summary>
    public static ITechnique Find(string id)
    {
        lock (Gate)
            return Entries.TryGetValue(id, out var t)
                ? t
                : throw new OptionsException($"unknown technique '{Text.Message.Name(id)}'; known techniques: {string.Join(", ", Entries.Keys.Order())}");
    }
}
