using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Runtime;
using Shrink.Runtime.Split;
using Shrink.Training;
using Shrink.Training.Execution;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink run MODEL --input X.npy --out Y.npy [--engine ort|torch]</c>: runs a model on NumPy arrays in
/// ONNX Runtime or in Shrink's training executor (so anyone can compare the two). MODEL may be a split model's
/// <c>manifest.json</c> (<c>shrink split</c>): its parts then run one after another (<see cref="SequentialRunner"/>,
/// <c>--resident K</c> of them loaded at once).
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var input = new Option<string[]>("--input") { Description = "Input .npy: X.npy for a single-input model, or NAME=X.npy (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Output .npy (the first model output, or the one named by --output)", Required = true };
        var which = new Option<string?>("--output") { Description = "Name of the model output to write (default: the first)" };
        var threads = Options.Threads();
        var engine = new Option<string>("--engine") { Description = "ort (ONNX Runtime) or torch (Shrink's TorchSharp training executor, eval mode)", DefaultValueFactory = _ => "ort" };
        engine.AcceptOnlyFromAmong("ort", "torch");
        var resident = new Option<int>("--resident") { Description = "For a split model's manifest.json: how many parts stay loaded at once (1: each is loaded, run and freed in turn)", DefaultValueFactory = _ => 1 };
        var noLayout = new Option<bool>("--no-layout-optimizations") { Description = "Run without ONNX Runtime's layout optimizations (NCHWc), as a split model's check does: the parts then give the whole model's outputs bit for bit" };
        var command = new Command("run", "Run a model (or a split model's manifest.json) in ONNX Runtime or the training executor on NumPy .npy inputs and write an output as .npy")
            { model, input, output, which, engine, threads, resident, noLayout };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var inputs = p.GetValue(input)!;
            var guard = Options.CheckOutput(outPath, new[] { path }.Concat(inputs.Select(i => i.Split('=', 2)[^1])).ToArray());
            IReadOnlyList<HostTensor> results;
            var runnerOptions = new RunnerOptions { Threads = p.GetValue(threads), LayoutOptimizations = !p.GetValue(noLayout) };
            if (IsManifest(path))
            {
                if (p.GetValue(engine) == "torch") throw new OptionsException("--engine torch runs one ONNX model; a split model's manifest runs in ONNX Runtime (--engine ort)");
                using var split = SequentialRunner.Open(path, new SequentialRunnerOptions { Resident = p.GetValue(resident), Runner = runnerOptions });
                results = split.Run(ReadInputs(path, split.Manifest.Inputs.Select(i => i.Name).ToList(), inputs));
            }
            else if (p.GetValue(engine) == "torch") results = RunTorch(path, inputs, p.GetValue(threads));
            else
            {
                using var runner = OnnxRunner.Load(path, runnerOptions);
                results = runner.Run(ReadInputs(runner.Source, runner.Inputs.Select(i => i.Name).ToList(), inputs));
            }
            var chosen = p.GetValue(which) is { } name
                ? results.FirstOrDefault(r => r.Name == name) ?? throw new OptionsException($"--output '{name}' is not an output of '{path}'; its outputs are {string.Join(", ", results.Select(r => r.Name))}")
                : results[0];
            NpyFile.Write(outPath, HostTensorNpy.ToNpy(chosen), guard);
            cli.Console.WriteLine($"wrote {outPath}: output '{chosen.Name}' [{string.Join(",", chosen.Shape)}] {chosen.Data.GetType().GetElementType()!.Name}");
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>A split model's manifest: a .json file (an ONNX model is protobuf, never JSON).</summary>
    private static bool IsManifest(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Runs the model through the TorchSharp executor in eval mode.</summary>
    private static IReadOnlyList<HostTensor> RunTorch(string path, string[] specs, int threads)
    {
        var model = Onnx.OnnxReader.Read(path);
        TorchRuntime.EnsureInitialized(threads > 0 ? threads : null);
        using var executor = GraphExecutor.Compile(model);
        var given = ReadInputs(path, executor.Inputs.Select(i => i.Name).ToList(), specs);
        var ordered = executor.Inputs.Select(v => given.FirstOrDefault(g => g.Name == v.Name)
            ?? throw new DataException($"'{path}' needs input '{v.Name}', which was not given")).ToList();
        foreach (var g in given)
            if (executor.Inputs.All(v => v.Name != g.Name))
                throw new DataException($"'{path}' has no input '{g.Name}'; its inputs are {string.Join(", ", executor.Inputs.Select(i => i.Name))}");
        foreach (var (v, g) in executor.Inputs.Zip(ordered))
            if (v.Shape is { } shape && (shape.Rank != g.Shape.Length || shape.Dims.Zip(g.Shape).Any(d => d.First.Value is { } fixedSize && fixedSize != d.Second)))
                throw new DataException($"input '{g.Name}' has shape [{string.Join(",", g.Shape)}] but '{path}' expects {shape}; reshape the data");
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var outputs = executor.Forward(ordered.Select(TorchTensors.FromHost).ToArray());
        return outputs.Select((t, i) => TorchTensors.ToHost(executor.Outputs[i].Name, t)).ToList();
    }

    private static HostTensor[] ReadInputs(string source, IReadOnlyList<string> inputNames, string[] specs)
    {
        return specs.Select(spec =>
        {
            var parts = spec.Split('=', 2);
            if (parts.Length == 1 && inputNames.Count != 1)
                throw new OptionsException($"'{source}' has {inputNames.Count} inputs ({string.Join(", ", inputNames)}); name each one: --input NAME=X.npy");
            var name = parts.Length == 2 ? parts[0] : inputNames[0];
            return HostTensorNpy.FromNpy(name, NpyFile.Read(parts[^1]));
        }).ToArray();
    }
}
