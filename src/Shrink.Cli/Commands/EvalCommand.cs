using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary><c>shrink eval MODEL [--data DIR] [--limit N] [--json]</c>: top-1 accuracy on the Fashion-MNIST test set in ONNX Runtime.</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var data = Options.Data();
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N test images" };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 256 };
        var threads = Options.Threads();
        var json = Options.Json();
        var command = new Command("eval", "Measure top-1 accuracy on the Fashion-MNIST test set with ONNX Runtime") { model, data, limit, batch, threads, json };
        command.SetAction(cli.Guard(p =>
        {
            var n = Options.CheckLimit(p.GetValue(limit));
            if (p.GetValue(batch) < 1) throw new OptionsException($"--batch {p.GetValue(batch)} is out of range; use 1 or more");
            var test = FashionMnist.Load(p.GetValue(data)).Test;
            if (n is { } k) test = test.Take(k);
            using var runner = OnnxRunner.Load(p.GetValue(model)!, new RunnerOptions { Threads = p.GetValue(threads) });
            var r = runner.Evaluate(test, p.GetValue(batch));
            var report = new EvalReport(p.GetValue(model)!, test.Source, r.Samples, r.Correct, r.Accuracy, r.Seconds);
            if (p.GetValue(json)) cli.WriteJson(report);
            else cli.Console.WriteLine($"{report.Model}: accuracy {report.Accuracy:P2} ({report.Correct}/{report.Samples}) on {report.Data}, {report.Seconds:F2} s");
            return ShrinkApp.Ok;
        }));
        return command;
    }
}

internal sealed record EvalReport(string Model, string Data, int Samples, int Correct, double Accuracy, double Seconds);
