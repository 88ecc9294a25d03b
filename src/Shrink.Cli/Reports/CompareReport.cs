using Spectre.Console;
using Shrink.Evaluation;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink compare</c> prints: the worst tensor pairs, where B starts to break, and what was left out.</summary>
internal static class CompareReport
{
    public static void Render(IAnsiConsole c, TensorComparisonResult r, int top)
    {
        var table = new Table().AddColumns("rank", "tensor", "in B", "node", "shape", "cosine", "SQNR", "max |error|");
        foreach (var (t, i) in r.Tensors.Take(top).Select((t, i) => (t, i + 1)))
            table.AddRow(i.ToString(), Markup.Escape(t.Tensor) + (t.IsOutput ? " (output)" : ""), t.Candidate == t.Tensor ? "(same name)" : Markup.Escape(t.Candidate),
                Markup.Escape(t.Producer), Markup.Escape($"[{string.Join(",", t.Shape)}]"), t.Cosine.ToString("F5"), Fidelity.Decibels(t.SqnrDb), t.MaxAbsError.ToString("G4"));
        c.Write(table);
        c.WriteLine($"compared {r.Tensors.Count} tensor pair(s) of {r.Reference} and {r.Candidate} on {r.Samples} sample(s) ({r.Data}); " +
            (r.Tensors.Count > top ? $"the {top} worst listed (--top N for more, --json for all)" : "all listed, worst first"));
        if (r.FirstBelow() is { } first)
            c.WriteLine($"first tensor under cosine {Fidelity.CollapseCosine:G} in the order of {r.Reference}: '{first.Tensor}' (node '{first.Producer}', cosine {first.Cosine:F4}): B breaks there or just before");
        if (r.Skipped.Count > 0)
            c.WriteLine($"skipped {r.Skipped.Count} pair(s) whose shapes differ, e.g. {string.Join(", ", r.Skipped.Take(3).Select(s => $"'{s.Tensor}' [{string.Join(",", s.ReferenceShape)}] vs [{string.Join(",", s.CandidateShape)}]"))}");
        if (r.Unmatched.Count > 0)
            c.WriteLine($"{r.Unmatched.Count} float tensor(s) of {r.Reference} have no match in {r.Candidate} (by name, or as the dequantized tensor), e.g. {string.Join(", ", r.Unmatched.Take(3).Select(n => $"'{n}'"))}");
    }
}
