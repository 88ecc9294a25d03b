// Runs a recipe from C#, with Shrink's packages only: a zoo LeNet-300-100 trained one epoch on the embedded
// Fashion-MNIST subset, 80 % of its weights pruned by magnitude, fine-tuned with the pruned weights held at
// zero, then quantized to int8 (dynamic) — the same stages as recipes/lenet300-train-prune-quantize.yaml,
// written here as YAML text. Each stage's model (checked in ONNX Runtime before it is moved into place),
// its metrics and recipe.lock.yaml (every option used, the input hashes) land in the output directory.
// Exits 1 when a result is off, so CI runs it as a test of the packages.
using Shrink.Recipes;
using Shrink.Techniques;
using Shrink.Training;

const string yaml = """
    version: 1
    model:
      zoo: lenet300
      seed: 0
    data:
      fashion-mnist: embedded
    stages:
      - technique: fine-tune
        options:
          epochs: 1
          learning-rate: 0.05
          keep-zeros: false
      - technique: prune-unstructured
        options:
          sparsity: 0.8
      - technique: fine-tune
        options:
          epochs: 1
      - technique: quantize-dynamic
        options:
          per-channel: true
    """;

var output = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), $"shrink-recipe-{Environment.ProcessId}");
TrainingTechniques.Register(); // the techniques that train (fine-tune here) join the library's own
var recipe = Recipe.Parse(yaml, "example recipe");
var result = RecipeRunner.Run(recipe, output, new TechniqueSession { Notes = Console.WriteLine });
foreach (var stage in result.Stages)
    Console.WriteLine($"{stage.Index + 1}. {stage.Technique,-20} {stage.Metrics.Bytes,9:N0} bytes, sparsity {stage.Metrics.Sparsity:P1}, accuracy {stage.Metrics.Accuracy:P2}");
Console.WriteLine($"wrote {result.FinalModel} and {result.LockPath}");

// The checks that make this example a test of the packages. Measured on 2 cores: 79.9 % sparsity after the
// fine-tuning, 58.8 % accuracy after the int8 stage (one epoch at lr 0.05 from the zoo's initialisation, then one
// more after pruning); the gates leave 0.4 and 3.8 points of margin.
var problems = new List<string>();
if (result.Stages.Count != 4) problems.Add($"{result.Stages.Count} stages ran, expected 4");
var last = result.Stages[^1].Metrics;
var pruned = result.Stages[2].Metrics;
if (pruned.Sparsity < 0.795) problems.Add($"sparsity {pruned.Sparsity:P1} after fine-tuning, expected about 79.9 %");
if (last.Accuracy is not { } accuracy || accuracy < 0.55) problems.Add($"final accuracy {last.Accuracy:P2}, expected about 58.8 %");
if (!File.Exists(result.LockPath)) problems.Add("no recipe.lock.yaml was written");
foreach (var p in problems) Console.Error.WriteLine($"error: {p}");
return problems.Count == 0 ? 0 : 1;
