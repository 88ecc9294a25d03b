using System.CommandLine;
using Spectre.Console;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Zoo;

namespace Shrink.Cli.Commands;

/// <summary><c>shrink zoo NAME --out MODEL.onnx [--seed S]</c>: writes an untrained, seeded zoo model.</summary>
internal static class ZooCommand
{
    public static Command Create(CliContext cli)
    {
        var name = new Argument<string>("NAME") { Description = $"Zoo model: {string.Join(", ", ModelZoo.Names)}" };
        var output = new Option<string>("--out") { Description = "Output ONNX file", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed for weight initialization", DefaultValueFactory = _ => 0 };
        var command = new Command("zoo", "Write an untrained, seeded model from the zoo (1x28x28 inputs, 10 classes)") { name, output, seed };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(output)!;
            var guard = Options.CheckOutput(path);
            var model = ModelZoo.Create(p.GetValue(name)!, p.GetValue(seed));
            var s = ModelSaver.Save(model, path, file => ModelStats.Compute(file), guard: guard);
            cli.Console.WriteLine($"wrote {path}: {p.GetValue(name)}, {s.Parameters:N0} parameters, {Format.Macs(s.Macs, s.MacsComplete)} MACs per sample, {Format.Bytes(s.BytesOnDisk)}");
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
