#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// The measurements of bench/quantize_int4.sh (run that script, not this file): weight-only int4 of MatMul/Gemm in ONNX
// Runtime, as ONNX int4 behind DequantizeLinear against com.microsoft.MatMulNBits, beside float and dynamic int8.
//   run OUT_DIR THREADS TOKENS ROUNDS CORPUS_VIT   one markdown table on stdout: per model and batch size, each variant's p50
//                                                  latency (median of interleaved rounds), its speed-up over float, file
//                                                  size and output cosine to the float model (64 seeded random inputs)
// Models: mlp8 (8 × MatMul 1024×1024 + Add, ReLU between; input [batch, 1024]), ffn4096 (MatMul 1024→4096 + Add, ReLU,
// MatMul 4096→1024 + Add; input [batch, TOKENS, 1024]) and, when CORPUS_VIT exists, the corpus's small vision transformer.
using System.Diagnostics;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Runtime;

if (args is not ["run", var outDir, var threadsText, var tokensText, var roundsText, var vit]) { Console.Error.WriteLine("usage: run OUT_DIR THREADS TOKENS ROUNDS CORPUS_VIT"); return 2; }
var (threads, tokens, rounds) = (int.Parse(threadsText), int.Parse(tokensText), int.Parse(roundsText));
Directory.CreateDirectory(outDir);
var models = new List<(string Name, Model Model)> { ("mlp8", Mlp(8, 1024, null)), ($"ffn4096 ({tokens} tokens)", Ffn(1024, 4096, tokens)) };
if (File.Exists(vit)) models.Add(("vit (corpus)", OnnxReader.Read(vit)));
Console.WriteLine($"ONNX Runtime {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()}, {threads} intra-op threads, {Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
Console.WriteLine();
Console.WriteLine("| model | batch | variant | p50 ms | vs float | file MB | cosine |");
Console.WriteLine("| --- | ---: | --- | ---: | ---: | ---: | ---: |");
var fusion = new List<string>();
foreach (var (name, model) in models)
{
    var variants = Variants(model);
    var paths = variants.Select(v => Path.Combine(outDir, $"{name.Split(' ')[0]}.{v.Name}.onnx")).ToList();
    for (var i = 0; i < variants.Count; i++) OnnxWriter.Write(variants[i].Model, paths[i]);
    fusion.Add($"{name}: {Fused(paths[1], Path.Combine(outDir, $"{name.Split(' ')[0]}.dq-int4.ort.onnx"), threads)}");
    var runners = paths.Select(p => OnnxRunner.Load(p, new RunnerOptions { Threads = threads })).ToList();
    var cosines = runners.Select(r => Fidelity.Against(runners[0], r, null, new FidelityOptions { RandomSamples = 64 }).Outputs.Min(o => o.Cosine)).ToList();
    foreach (var batch in new[] { 1, 32 })
    {
        var p50 = Interleaved(runners, batch, rounds);
        for (var i = 0; i < variants.Count; i++)
            Console.WriteLine($"| {name} | {batch} | {variants[i].Name} | {p50[i]:F2} | {p50[0] / p50[i]:F2}x | {new FileInfo(paths[i]).Length / 1e6:F2} | {cosines[i]:F5} |");
    }
    foreach (var r in runners) r.Dispose();
}
Console.WriteLine();
Console.WriteLine("ONNX Runtime's optimizer (ORT_ENABLE_ALL) on the DequantizeLinear int4 form:");
foreach (var line in fusion) Console.WriteLine($"- {line}");
return 0;

// float, int4 behind DequantizeLinear (32 per scale), MatMulNBits (accuracy level 0 and 4; symmetric and asymmetric), dynamic int8.
static List<(string Name, Model Model)> Variants(Model model)
{
    var int4 = new QuantizeOptions { Weights = WeightPrecision.Int4, Activations = ActivationPrecision.Float, BlockSize = 32 };
    var folded = Quantizer.Prepare(model, int4).Folded;
    return new()
    {
        ("float", model),
        ("dq-int4", Quantizer.WeightOnly(model, int4 with { Storage = WeightStorage.Int4 }).Model),
        ("nbits", Quantizer.WeightOnly(model, int4).Model),
        ("nbits-acc4", new MatMulNBitsPass(new MatMulNBitsOptions { AccuracyLevel = 4 }).Run(folded, new PassContext()).Model),
        ("nbits-asym", Quantizer.WeightOnly(model, int4 with { AsymmetricWeights = true }).Model),
        ("dynamic-int8", Quantizer.Dynamic(model, new QuantizeOptions { PerChannel = true }).Model),
    };
}

// What ONNX Runtime makes of the DequantizeLinear → MatMul form: the op counts of its optimized graph.
static string Fused(string path, string optimized, int threads)
{
    using (OnnxRunner.Load(path, new RunnerOptions { Threads = threads, OptimizedModelPath = optimized })) { }
    var ops = OnnxReader.Read(optimized).Graph.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}");
    return string.Join(", ", ops);
}

// p50 of each runner at one batch size: 3 warm-up runs each, then ROUNDS rounds in which every runner runs 3 times, the order
// rotated each round, so a machine that speeds up or slows down affects every variant alike.
static double[] Interleaved(IReadOnlyList<OnnxRunner> runners, int batch, int rounds)
{
    var probes = runners.Select(r => r.Probe(batch)).ToList();
    foreach (var p in probes) for (var i = 0; i < 3; i++) p.Once();
    var times = probes.Select(_ => new List<double>()).ToList();
    for (var r = 0; r < rounds; r++)
        for (var j = 0; j < probes.Count; j++)
        {
            var v = (j + r) % probes.Count;
            for (var i = 0; i < 3; i++) times[v].Add(probes[v].Once());
        }
    foreach (var p in probes) p.Dispose();
    return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
}

// x [batch, width] → layers × (MatMul width×width + Add), ReLU between.
static Model Mlp(int layers, int width, int? tokens)
{
    var (model, x) = Start(width, tokens);
    for (var i = 0; i < layers; i++) x = Dense(model, x, width, width, $"fc{i}", relu: i < layers - 1, seed: i);
    model.Graph.Outputs.Add(x);
    return model;
}

// x [batch, tokens, width] → MatMul width→hidden + Add, ReLU, MatMul hidden→width + Add: a transformer's feed-forward block.
static Model Ffn(int width, int hidden, int tokens)
{
    var (model, x) = Start(width, tokens);
    x = Dense(model, Dense(model, x, width, hidden, "up", relu: true, seed: 1), hidden, width, "down", relu: false, seed: 2);
    model.Graph.Outputs.Add(x);
    return model;
}

static (Model, Value) Start(int width, int? tokens)
{
    var model = new Model(new Graph("bench"));
    model.SetOpset("", 17);
    var dims = new List<Dim> { Dim.Symbol("batch") };
    if (tokens is { } t) dims.Add(Dim.Of(t));
    dims.Add(Dim.Of(width));
    var x = new Value("x", DataType.Float, new Shape(dims));
    model.Graph.Inputs.Add(x);
    return (model, x);
}

// x · W + b (W [k, n] ~ N(0, 2/k), b ~ N(0, 0.01)), then ReLU when asked.
static Value Dense(Model model, Value x, int k, int n, string name, bool relu, int seed)
{
    var g = model.Graph;
    var random = new Random(seed);
    float Normal(double std) => (float)(std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    var w = g.AddInitializer(Tensor.FromFloats(name + ".weight", new long[] { k, n }, Enumerable.Range(0, k * n).Select(_ => Normal(Math.Sqrt(2.0 / k))).ToArray()));
    var b = g.AddInitializer(Tensor.FromFloats(name + ".bias", new long[] { n }, Enumerable.Range(0, n).Select(_ => Normal(0.1)).ToArray()));
    Value Op(string op, Value a, Value? c, string output)
    {
        var node = new Node(op, "", $"{name}/{op}");
        node.AddInput(a);
        if (c is not null) node.AddInput(c);
        g.AddNode(node);
        return node.AddOutput(new Value($"{name}.{output}", DataType.Float))!;
    }
    var y = Op("Add", Op("MatMul", x, w, "product"), b, "sum");
    return relu ? Op("Relu", y, null, "relu") : y;
}
