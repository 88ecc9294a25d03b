using TorchSharp;
using static TorchSharp.torch;

namespace Shrink.Training.Execution;

/// <summary>
/// Einsum (opset 12) on torch.einsum, for the equations exporters write: one to three operands over
/// letters, explicit ("bhid,bhjd->bhij") or implicit (the output is every letter used once, in
/// alphabetical order, as in NumPy), spaces allowed. An ellipsis ("...") or more operands are refused.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterEinsum() => Add("Einsum", Einsum);

    private static Kernel Einsum(KernelContext ctx)
    {
        var inputs = ctx.Ins();
        var equation = ExplicitEquation(ctx.String("equation") ?? "", inputs.Length) is { } e
            ? e : throw ctx.Unsupported(EinsumRefusal(ctx.String("equation") ?? "", inputs.Length));
        var y = ctx.Out(0);
        return s =>
        {
            var operands = new Tensor[inputs.Length];
            for (var i = 0; i < operands.Length; i++) operands[i] = s[inputs[i]]!;
            s[y] = torch.einsum(equation, operands);
        };
    }

    /// <summary>The equation without spaces and with its output written out, or null when the executor does not run it.</summary>
    internal static string? ExplicitEquation(string equation, int operands)
    {
        var compact = string.Concat(equation.Where(c => !char.IsWhiteSpace(c)));
        var parts = compact.Split("->");
        if (parts.Length > 2 || operands is < 1 or > 3) return null;
        var terms = parts[0].Split(',');
        if (terms.Length != operands || terms.Any(t => !t.All(char.IsAsciiLetter))) return null;
        var counts = terms.SelectMany(t => t).GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        if (parts.Length == 1)
            return $"{parts[0]}->{new string(counts.Where(p => p.Value == 1).Select(p => p.Key).Order().ToArray())}";
        var output = parts[1];
        if (!output.All(char.IsAsciiLetter) || output.Distinct().Count() != output.Length || output.Any(c => !counts.ContainsKey(c))) return null;
        return compact;
    }

    /// <summary>Why <see cref="ExplicitEquation"/> refused an equation, in words.</summary>
    private static string EinsumRefusal(string equation, int operands) =>
        equation.Contains('.') ? $"equation '{equation}' with an ellipsis (letters only run)"
        : operands is < 1 or > 3 ? $"{operands} operands (1 to 3 run)"
        : $"equation '{equation}' for {operands} operand{(operands == 1 ? "" : "s")}";
}
