using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Factorization;
using Shrink.Training.FineTuning;
using Shrink.Training.Sharing;

namespace Shrink.Training;

/// <summary>
/// Registers the techniques that need training in <see cref="TechniqueRegistry"/>. Call it once before resolving
/// technique ids (the CLI does at start; a program that runs recipes with training stages does too). Calling it
/// again is harmless.
/// </summary>
public static class TrainingTechniques
{
    public static void Register()
    {
        TechniqueRegistry.Register(new FineTuneTechnique());
        TechniqueRegistry.Register(new Pruning.PruneTechnique());
        TechniqueRegistry.Register(new Quantization.QatTechnique());
        TechniqueRegistry.Register(new ClusterTechnique());
        TechniqueRegistry.Register(new FactorizeTechnique());
        TechniqueRegistry.Register(new DistillTechnique());
    }
}
