using Shrink.Ir;
using Shrink.Passes;

namespace Shrink.Techniques;

/// <summary>
/// A registered pass (<see cref="PassRegistry"/>) as a technique, under the pass's id and with the pass's options
/// record (<see cref="NoOptions"/> for passes that take none), so every pass is also a recipe stage. It needs no
/// data and no training: it runs the pass once, through <see cref="PassPipeline"/>, on a copy of the model.
/// <see cref="TechniqueRegistry"/> offers these for every pass id no registered technique has taken.
/// </summary>
public sealed class PassTechnique : ITechnique
{
    public PassTechnique(string passId)
    {
        Id = passId;
        OptionsType = PassRegistry.OptionsType(passId) ?? typeof(NoOptions);
    }

    public string Id { get; }

    public string Summary => $"the {Id} pass, once";

    public Type OptionsType { get; }

    public IReadOnlyList<string> Check(Model model, object options, TechniqueInputs inputs) =>
        Create(options).CheckPreconditions(model) is { } reason ? [reason] : Array.Empty<string>();

    public TechniqueResult Run(Model model, object options, TechniqueInputs inputs, TechniqueSession session)
    {
        var pass = Create(options);
        var context = new PassContext { Naming = session.Naming };
        var result = new PassPipeline(pass).Run(model, context);
        foreach (var note in context.Notes) session.Note(note);
        return new TechniqueResult(result.Model, Array.Empty<IArtifact>(), context.Notes.ToList());
    }

    private IPass Create(object options)
    {
        if (!OptionsType.IsInstanceOfType(options))
            throw new ArgumentException($"technique '{Id}' takes {OptionsType.Name}, not {options?.GetType().Name ?? "null"}", nameof(options));
        return PassRegistry.Create(Id, options is NoOptions ? null : options);
    }
}

/// <summary>The options of a technique that takes none (a recipe stage writes <c>options: {}</c>).</summary>
public sealed record NoOptions;
