using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Factorization;
using Shrink.Training.Sharing;

namespace Shrink.Training;

/// <summary>The techniques that need training, registered in <see cref="TechniqueRegistry"/> (the CLI calls <see cref="Register"/> at start).</summary>
public static class TrainingTechniques
{
    /// <summary>Registers every technique of <c>Shrink.Training</c>; calling it again is harmless.</summary>
    public static void Register()
    {
        TechniqueRegistry.Register(new ClusterTechnique());
        TechniqueRegistry.Register(new FactorizeTechnique());
        TechniqueRegistry.Register(new DistillTechnique());
    }
}
