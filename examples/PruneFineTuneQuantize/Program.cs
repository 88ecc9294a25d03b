// Prunes, fine-tunes and quantizes a model from C#, with Shrink's packages only: a LeNet-300-100 from the
// zoo trained for one epoch on the embedded Fashion-MNIST subset (6,000 images), 80 % of its weights removed
// by magnitude, one epoch of fine-tuning with the pruned weights held at zero, then dynamic int8
// quantization, saved (checked in ONNX Runtime first) and evaluated in ONNX Runtime. Seconds on 2 cores.
// Exits 1 when a result is off, so CI runs it as a test of the packages.
using Shrink.Data;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Techniques;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Zoo;

var output = args.Length > 0 ? args[0] : "lenet300-pruned-int8.onnx";
var data = FashionMnist.LoadEmbedded();
var inputs = new TechniqueInputs { Data = data };
var session = new TechniqueSession { Notes = Console.WriteLine };
var options = new FineTuneOptions { Epochs = 1, LearningRate = 0.1 };

// 0. A zoo model, trained one epoch (the same fine-tuning loop, from its seeded initial weights).
var model = FineTuner.Run(ModelZoo.Create("lenet300", seed: 0), options, inputs, session, "train").Model;

// 1. Prune: the 80 % smallest weights of every layer become zero; the pass records which (its masks).
var prune = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.8 }).Run(model, new PassContext());
var (pruned, masks) = (prune.Model, prune.Artifact<PruningMasks>()!);

// 2. Fine-tune one epoch in TorchSharp (libtorch), the masks holding the pruned weights at zero.
var tuned = FineTuner.Run(pruned, options, inputs, session, "fine-tune", executor => new[] { new MaskHook(executor, masks) });

// 3. Quantize: int8 weights per output channel, activations quantized at run time.
var quantized = new QuantizeDynamicPass(new QuantizationOptions { PerChannel = true }).Run(tuned.Model, new PassContext()).Model;

// 4. Save (validated, written to a temporary file, loaded in ONNX Runtime, then moved into place) and evaluate.
ModelSaver.Save(quantized, output);
using var runner = OnnxRunner.Load(output);
var accuracy = runner.Evaluate(data.Test).Accuracy;
var sparsity = ModelStats.Compute(tuned.Model).Sparsity;
Console.WriteLine($"wrote {output}: sparsity {sparsity:P1}, test accuracy {tuned.TestAccuracy:P2} (executor, float) -> {accuracy:P2} (ONNX Runtime, int8)");

// The checks that make this example a test of the packages. Measured on 2 cores: sparsity 79.8 % (the
// biases are not pruned), 69.5 % float, 69.3 % int8; the gates leave 0.3, 9.5 and 0.8 points of margin.
var problems = new List<string>();
if (sparsity < 0.795) problems.Add($"sparsity {sparsity:P1} after fine-tuning, expected 79.8 % (80 % of the weights)");
if (tuned.TestAccuracy < 0.6) problems.Add($"fine-tuned accuracy {tuned.TestAccuracy:P2}, expected about 69.5 %");
if (Math.Abs(accuracy - tuned.TestAccuracy) > 0.01) problems.Add($"int8 accuracy {accuracy:P2} is more than 1 point from the float model's {tuned.TestAccuracy:P2}");
foreach (var p in problems) Console.Error.WriteLine($"error: {p}");
return problems.Count == 0 ? 0 : 1;
