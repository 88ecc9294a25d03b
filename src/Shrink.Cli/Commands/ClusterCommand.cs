using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Sharing;
using Shrink.Runtime;
using Shrink.Training.FineTuning;
using Shrink.Training.Sharing;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink cluster MODEL --bits 5 [--conv-bits 8] [--layers CONFIG] [--init linear|density|random]
/// [--finetune-epochs N --data DIR] --out OUT [--json]</c>: weight sharing by k-means, then centroid
/// fine-tuning (the <c>cluster</c> technique); prints size and accuracy before and after.
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
                var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.001 };
        var batch = new Option<int>("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Seed of random initialisation and fine-tuning", DefaultValueFactory = _ => 0 };
        var data = new DataCli("Data for accuracy (or, without labels, fidelity) figures and fine-tuning: " + DataCli.Description, seed, trains: true);
        var output = new Option<string>("--out") { Description = "Clustered ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var recipe = new RecipeCli();
        var gate = new FidelityCli();
        var command = new Command("cluster", "Share weights by k-means (Deep Compression), optionally fine-tune the centroids, and compare before/after")
            { model, bits, convBits, layers, init, finetune, lr, batch, seed, output, json };
        data.AddTo(command);
        foreach (var o in teacher.All.Concat(runDir.All).Concat(recipe.All).Append(gate.MinFidelity)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var (path, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher), p.GetValue(layers));
            var layerBits = p.GetValue(layers) is { } config ? LayerFiles.ReadBits(config) : null;
            var sharing = new ClusterOptions
            {
                Bits = p.GetValue(bits), ConvBits = p.GetValue(convBits), LayerBits = layerBits, OnlyListed = layerBits is not null, Seed = p.GetValue(seed),
                Init = p.GetValue(init) switch { "density" => CentroidInit.Density, "random" => CentroidInit.Random, _ => CentroidInit.Linear },
            }.Validate();
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(finetune), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            Options.CheckFineTune(tuning, hasData: data.Given(p));
            if (!(tuning.LearningRate > 0)) throw new OptionsException($"--lr must be positive, got {tuning.LearningRate}");
            var options = new ClusterTechniqueOptions { Sharing = sharing, FineTune = tuning };
            var fidelity = gate.Check(p, Text.OptionText.Plain("give more --bits (or --conv-bits), or fine-tune the centroids with --finetune-epochs"), recipe);
            var recipeData = data.Recipe(p) with { Teacher = teacherChoice?.Source };
            if (recipe.Handle(cli, p, "cluster", options, Recipes.RecipeModel.File(path), recipeData, guard: guard) is { } code) return code;
            using var run = runDir.Open(p, cli, outPath, trains: tuning.Epochs > 0);

            var original = OnnxReader.Read(path);
            var sets = data.Optional(p, original, DataCli.Name(path));
            var result = new ClusterTechnique().Run(original, options, TeacherChoice.Inputs(teacherChoice, sets), cli.Session());
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, Array.Empty<int>(), fidelity: fidelity),
                OnnxWriteOptions.ForResultOf(original), guard: guard);
            var report = new ClusterReport(path, outPath, tuning.Epochs, measured.Before, measured.After,
                ClusterLayer.Of(result.Model, result.Artifact<Codebooks>()!), result.Notes);
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            FidelityCli.Warn(cli, path, outPath, measured.After);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
