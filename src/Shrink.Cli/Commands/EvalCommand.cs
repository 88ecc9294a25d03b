using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink eval MODEL [--data SPEC] [--reference ORIGINAL.onnx] [--limit N] [--json]</c>: on labelled data top-1 and top-5
/// accuracy and loss in ONNX Runtime; with <c>--reference</c> (needed on data without labels) each output's fidelity to it.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var data = new DataCli();
        var reference = new Option<string?>("--reference") { Description = "The original model: report each output's fidelity to it (top-1 agreement, cosine, SQNR, max |error|); needed on data without labels" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N test samples" };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 256 };
        var threads = Options.Threads();
        var json = Options.Json();
        var command = new Command("eval", "Measure accuracy (top-1, top-5, loss) on the test data in ONNX Runtime, or fidelity to a reference model") { model, reference, limit, batch, threads, json };
        data.AddTo(command);
        command.SetAction(cli.Guard(p =>
        {
            var n = Options.CheckLimit(p.GetValue(limit));
            if (p.GetValue(batch) < 1) throw new OptionsException($"--batch {p.GetValue(batch)} is out of range; use 1 or more");
            var path = p.GetValue(model)!;
            var test = data.Open(p, Onnx.OnnxReader.Read(path), DataCli.Name(path)).Test;
            if (n is { } k) test = test.Take(k);
            if (test.ClassCount is null && p.GetValue(reference) is null)
                throw new DataException($"{test.Name} has no labels: give --reference ORIGINAL.onnx to measure fidelity to the original, or labelled data");
            var options = new RunnerOptions { Threads = p.GetValue(threads) };
            using var runner = OnnxRunner.Load(path, options);
            var r = test.ClassCount is null ? null : runner.Evaluate(test, p.GetValue(batch));
            IReadOnlyList<OutputFidelity>? fidelity = null;
            if (p.GetValue(reference) is { } original)
            {
                using var baseline = OnnxRunner.Load(original, options);
                fidelity = Fidelity.Measure(baseline, runner, test, p.GetValue(batch));
            }
            var report = new EvalReport(path, test.Name, r?.Samples ?? test.Count, r?.Correct, r?.Accuracy, r?.Seconds) { Top5 = r?.Top5Accuracy, Loss = r?.Loss, Reference = p.GetValue(reference), Fidelity = fidelity };
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            return ShrinkApp.Ok;
        }));
        return command;
    }
}

/// <summary>What <c>shrink eval</c> prints or writes as JSON: the data set, accuracy (labelled data) and fidelity (with a reference).</summary>
internal sealed record EvalReport(string Model, string Data, int Samples, int? Correct, double? Accuracy, double? Seconds)
{
    public double? Top5 { get; init; }
    public double? Loss { get; init; }
    public string? Reference { get; init; }
    public IReadOnlyList<OutputFidelity>? Fidelity { get; init; }

    public void Render(IAnsiConsole c)
    {
        if (Accuracy is { } a)
            c.WriteLine($"{Model}: accuracy {a:P2} ({Correct}/{Samples}) on {Data}, {Seconds:F2} s; top-5 {Top5:P2}, loss {Loss:F4}");
        foreach (var f in Fidelity ?? Array.Empty<OutputFidelity>())
            c.WriteLine($"{Model}: fidelity to {Reference} on {Data} ({f.Samples} samples), {f}");
    }
}
