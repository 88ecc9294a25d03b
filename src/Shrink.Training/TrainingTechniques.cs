using Shrink.Techniques;

namespace Shrink.Training;

/// <summary>
/// Registers the techniques of <c>Shrink.Training</c> (those that train) in <see cref="TechniqueRegistry"/>; call once
/// at start (the CLI does). Registering again is a no-op.
/// </summary>
public static class TrainingTechniques
{
    public static void Register()
    {
        TechniqueRegistry.Register(new Quantization.QatTechnique());
    }
}
