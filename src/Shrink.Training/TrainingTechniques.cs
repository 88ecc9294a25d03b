using Shrink.Techniques;

namespace Shrink.Training;

/// <summary>Registers the techniques that train (they live in this assembly) in <see cref="TechniqueRegistry"/>; the CLI calls it at start. Calling it again is harmless.</summary>
public static class TrainingTechniques
{
    public static void Register()
    {
        TechniqueRegistry.Register(new Pruning.PruneTechnique());
    }
}
