using System.CommandLine;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Text;

namespace Shrink.Cli;

/// <summary>
/// The fidelity gate of a command that changes what a model computes: <c>--min-fidelity</c> onto <see cref="FidelityCheck"/> (with what the
/// command's refusal tells the user to change), and the warning line of an output that collapsed.
/// </summary>
internal sealed class FidelityCli
{
    /// <summary>A gate on its own --min-fidelity, or on <paramref name="minFidelity"/>, a command's option that also sets a technique's bound (quantize's float fallback).</summary>
    public FidelityCli(Option<double?>? minFidelity = null) => MinFidelity = minFidelity ?? Options.MinFidelity();

    public Option<double?> MinFidelity { get; }

    /// <summary>
    /// The check of the command line, its bound validated before any work (and refused with --save-recipe, which cannot hold it);
    /// <paramref name="mend"/> is what to change when a result is refused.
    /// </summary>
    public FidelityCheck Check(ParseResult p, OptionText mend, RecipeCli? recipe = null, IDataSource? data = null)
    {
        recipe?.Unsaved(p, "--min-fidelity", p.GetValue(MinFidelity) is not null, "a recipe measures its stages but does not refuse them");
        return new() { Options = new FidelityOptions { MinFidelity = p.GetValue(MinFidelity) }.Validate(), Data = data, Mend = mend };
    }

    /// <summary>One warning line on stderr, after the report, for each output of <paramref name="after"/> that collapsed against the input model.</summary>
    public static void Warn(CliContext cli, string input, string output, ModelMeasurement after)
    {
        foreach (var warning in after.FidelityWarnings)
            cli.Note($"warning: {warning}; find the layer that breaks with: shrink compare {input} {output}");
    }
}
