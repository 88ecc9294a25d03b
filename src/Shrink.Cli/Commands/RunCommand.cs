using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary><c>shrink run MODEL --input X.npy --out Y.npy</c>: runs a model in ONNX Runtime on NumPy arrays.</summary>
internal static class RunCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var input = new Option<string[]>("--input") { Description = "Input .npy: X.npy for a single-input model, or NAME=X.npy (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Output .npy (the first model output, or the one named by --output)", Required = true };
        var which = new Option<string?>("--output") { Description = "Name of the model output to write (default: the first)" };
        var threads = Options.Threads();
        var command = new Command("run", "Run a model in ONNX Runtime on NumPy .npy inputs and write an output as .npy") { model, input, output, which, threads };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var inputs = p.GetValue(input)!;
            Options.CheckOutput(outPath, new[] { path }.Concat(inputs.Select(i => i.Split('=', 2)[^1])).ToArray());
            using var runner = OnnxRunner.Load(path, new RunnerOptions { Threads = p.GetValue(threads) });
            var tensors = ReadInputs(runner, inputs);
            var results = runner.Run(tensors);
            var chosen = p.GetValue(which) is { } name
                ? results.FirstOrDefault(r => r.Name == name) ?? throw new OptionsException($"--output '{name}' is not an output of '{path}'; its outputs are {string.Join(", ", results.Select(r => r.Name))}")
                : results[0];
            NpyFile.Write(outPath, HostTensorNpy.ToNpy(chosen));
            cli.Console.WriteLine($"wrote {outPath}: output '{chosen.Name}' [{string.Join(",", chosen.Shape)}] {chosen.Data.GetType().GetElementType()!.Name}");
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static HostTensor[] ReadInputs(OnnxRunner runner, string[] specs)
    {
        return specs.Select(spec =>
        {
            var parts = spec.Split('=', 2);
            if (parts.Length == 1 && runner.Inputs.Count != 1)
                throw new OptionsException($"'{runner.Source}' has {runner.Inputs.Count} inputs ({string.Join(", ", runner.Inputs.Select(i => i.Name))}); name each one: --input NAME=X.npy");
            var name = parts.Length == 2 ? parts[0] : runner.Inputs[0].Name;
            return HostTensorNpy.FromNpy(name, NpyFile.Read(parts[^1]));
        }).ToArray();
    }
}
