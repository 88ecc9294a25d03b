using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Runtime;
using Shrink.Training.FineTuning;
using Shrink.Training;
using Shrink.Training.Pruning;
using Shrink.Training.Sharing;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink cluster MODEL --bits 5 [--conv-bits 8] [--layers CONFIG] [--init linear|density|random]
/// [--finetune-epochs N --data DIR] --out OUT [--json]</c>: weight sharing by k-means, then centroid
/// fine-tuning; prints size and accuracy before and after.
/// </summary>
internal static class ClusterCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var bits = new Option<int>("--bits") { Description = "Cluster index bits per layer (2^bits shared values)", DefaultValueFactory = _ => 5 };
        var convBits = new Option<int?>("--conv-bits") { Description = "Bits for Conv layers (Deep Compression: 8 for conv, 5 for fully connected)" };
        var layers = new Option<string?>("--layers") { Description = "JSON of layer name → bits; only those layers are clustered" };
        var init = new Option<string>("--init") { Description = "k-means start: linear (evenly over [min, max], the paper's), density (quantiles) or random", DefaultValueFactory = _ => "linear" };
        init.AcceptOnlyFromAmong("linear", "density", "random");
        var finetune = new Option<int>("--finetune-epochs") { Description = "Centroid fine-tuning epochs (gradients of a cluster summed into its centroid; needs --data)", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST directory or 'embedded': accuracy figures and fine-tuning" };
        var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.001 };
        var batch = new Option<int>("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Seed of random initialisation and fine-tuning", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Clustered ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var command = new Command("cluster", "Share weights by k-means (Deep Compression), optionally fine-tune the centroids, and compare before/after")
            { model, bits, convBits, layers, init, finetune, data, lr, batch, seed, output, json };
        foreach (var o in teacher.All.Concat(runDir.All)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher), p.GetValue(layers));
            var layerBits = p.GetValue(layers) is { } config ? ReadLayers(config) : null;
            var options = new ClusterOptions
            {
                Bits = p.GetValue(bits), ConvBits = p.GetValue(convBits), LayerBits = layerBits, OnlyListed = layerBits is not null, Seed = p.GetValue(seed),
                Init = p.GetValue(init) switch { "density" => CentroidInit.Density, "random" => CentroidInit.Random, _ => CentroidInit.Linear },
            }.Validate();
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(finetune), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            Options.CheckFineTune(tuning, hasData: p.GetValue(data) is not null);
            if (!(tuning.LearningRate > 0)) throw new OptionsException($"--lr must be positive, got {tuning.LearningRate}");
            using var run = runDir.Open(p, cli, outPath, trains: tuning.Epochs > 0);

            var context = new PassContext();
            var original = OnnxReader.Read(path);
            var pass = new ClusterPass(options);
            if (pass.CheckPreconditions(original) is { } reason) throw new OptionsException(reason);
            var sets = p.GetValue(data) is { } dir ? FashionMnist.Load(dir) : null;
            if (sets is not null) Passes.Quantization.CalibrationSet.FromDataset(sets.Test, 1).CheckFits(original);
            var clustered = new PassPipeline(pass).Run(original, context).Model;
            if (tuning.Epochs > 0)
            {
                var weights = ClusterPass.ReadBits(clustered).Keys.ToList();
                var masks = PruningMasks.FromZeros(clustered);
                var tuned = FineTuner.Run(clustered, tuning, TeacherChoice.Inputs(teacherChoice, sets!), cli.Session(), "centroid fine-tune",
                    ex => new ITrainingHook[] { new MaskHook(ex, masks), new ClusterHook(ex, weights) }).Model;
                foreach (var kv in clustered.Metadata.ToList()) tuned.SetMetadata(kv.Key, kv.Value);
                clustered = tuned;
            }
            var (before, _) = ModelSide.Measure(path, sets?.Test);
            var (after, stats) = ModelSaver.Save(clustered, outPath, file => ModelSide.Measure(file, sets?.Test), guard: guard);
            var layerRows = ClusterPass.ReadBits(clustered).Select(kv =>
            {
                var t = clustered.Graph.FindInitializer(kv.Key)!.Const!.AsFloats().ToArray();
                return new ClusterLayer(kv.Key, kv.Value, t.Where(v => v != 0).Distinct().Count(), t.LongCount(v => v != 0), t.Length);
            }).ToList();
            var report = new ClusterReport(path, outPath, tuning.Epochs, before, after, layerRows, context.Notes);
            if (p.GetValue(json)) cli.WriteJson(report);
            else
            {
                cli.Console.Write(ModelSide.Table(before, after));
                var t = new Table().AddColumns("weight", "bits", "shared values", "non-zero", "elements");
                foreach (var l in layerRows) t.AddRow(Markup.Escape(l.Weight), l.Bits.ToString(), l.SharedValues.ToString(), l.NonZero.ToString("N0"), l.Elements.ToString("N0"));
                cli.Console.Write(t);
                foreach (var note in context.Notes) cli.Console.WriteLine($"note: {note}");
                cli.Console.WriteLine($"wrote {outPath}: {layerRows.Count} layers clustered (still float ONNX; shrink pack stores the indices and codebooks)");
            }
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static IReadOnlyDictionary<string, int> ReadLayers(string path)
    {
        if (!File.Exists(path)) throw new OptionsException($"--layers '{path}' does not exist; give a JSON file such as {{\"conv1\": 8, \"gemm1\": 5}}");
        if (IO.FileIdentity.NotRegular(path, "--layers") is { } problem) throw new OptionsException(problem);
        try
        {
            var map = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(path));
            if (map is null || map.Count == 0) throw new OptionsException($"--layers '{path}' names no layers; write e.g. {{\"conv1\": 8}}");
            return map;
        }
        catch (JsonException e)
        {
            throw new OptionsException($"--layers '{path}' is not a JSON object of layer names to bits ({e.Message.Split('.')[0]}); write e.g. {{\"conv1\": 8}}");
        }
    }
}

internal sealed record ClusterLayer(string Weight, int Bits, int SharedValues, long NonZero, long Elements);

internal sealed record ClusterReport(string Model, string Out, int FinetuneEpochs, ModelSide Before, ModelSide After, IReadOnlyList<ClusterLayer> Layers,
    IReadOnlyList<string> Notes);
