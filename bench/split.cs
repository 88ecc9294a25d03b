#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// The measurements of bench/split.sh (run that script, not this file): a split model run part by part against the whole.
//   make OUT_DIR LAYERS WIDTH                   writes OUT_DIR/mlp.onnx: LAYERS × (MatMul WIDTH×WIDTH + Relu), seeded weights
//   baseline                                    the same process loading no model (the .NET runtime's own RSS)
//   whole MODEL BATCH ROUNDS                    loads the model once and runs it ROUNDS times
//   split MANIFEST BATCH ROUNDS RESIDENT        runs the split model ROUNDS times, RESIDENT parts loaded at once
// Each run prints one line: load seconds (the first session, or every part's load in the first run), first-run seconds,
// median seconds of the later runs, the process's peak resident set (VmHWM) and a checksum of the output.
using System.Diagnostics;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Runtime.Split;

switch (args)
{
    case ["baseline"]: return Report("baseline", 0, 1, () => new HostTensor("none", new float[1], new long[] { 1 }));
    case ["make", var dir, var layers, var width]: Make(dir, int.Parse(layers), int.Parse(width)); return 0;
    case ["whole", var model, var batch, var rounds]: return Whole(model, int.Parse(batch), int.Parse(rounds));
    case ["split", var manifest, var batch, var rounds, var resident]: return Split(manifest, int.Parse(batch), int.Parse(rounds), int.Parse(resident));
    default: Console.Error.WriteLine("usage: make OUT_DIR LAYERS WIDTH | whole MODEL BATCH ROUNDS | split MANIFEST BATCH ROUNDS RESIDENT"); return 2;
}

static void Make(string dir, int layers, int width)
{
    var g = new Graph("mlp");
    var x = new Value("input", DataType.Float, new Shape(new[] { Dim.Symbol("batch"), Dim.Of(width) }));
    g.Inputs.Add(x);
    var random = new Random(0);
    var scale = (float)Math.Sqrt(2.0 / width);
    for (var i = 0; i < layers; i++)
    {
        var w = new float[width * width];
        for (var j = 0; j < w.Length; j++) w[j] = ((float)random.NextDouble() * 2 - 1) * scale;
        var weight = g.AddInitializer(Tensor.FromFloats($"w{i}", new long[] { width, width }, w));
        var mm = new Node("MatMul", name: $"matmul{i}");
        mm.AddInput(x).AddInput(weight);
        g.AddNode(mm);
        var h = mm.AddOutput(new Value($"h{i}"))!;
        var relu = new Node("Relu", name: $"relu{i}");
        relu.AddInput(h);
        g.AddNode(relu);
        x = relu.AddOutput(new Value(i == layers - 1 ? "output" : $"r{i}", DataType.Float))!;
    }
    g.Outputs.Add(x);
    var model = new Model(g);
    model.SetOpset("", 17);
    Directory.CreateDirectory(dir);
    ModelSaver.Save(model, Path.Combine(dir, "mlp.onnx"));
}

static HostTensor Input(string name, int batch, long width)
{
    var random = new Random(1);
    return new HostTensor(name, Enumerable.Range(0, (int)(batch * width)).Select(_ => (float)random.NextDouble()).ToArray(), new long[] { batch, width });
}

static int Whole(string model, int batch, int rounds)
{
    var clock = Stopwatch.StartNew();
    using var runner = OnnxRunner.Load(model, new RunnerOptions { Threads = 2 });
    var load = clock.Elapsed.TotalSeconds;
    var input = Input(runner.Inputs[0].Name, batch, runner.Inputs[0].Dims[1]);
    return Report("whole", load, rounds, () => runner.Run(new[] { input })[0]);
}

static int Split(string manifest, int batch, int rounds, int resident)
{
    using var runner = SequentialRunner.Open(manifest, new SequentialRunnerOptions { Resident = resident, Runner = new RunnerOptions { Threads = 2 } });
    var spec = runner.Manifest.Inputs[0];
    var input = Input(spec.Name, batch, long.Parse(spec.Shape[1]));
    double load = 0;
    return Report($"split{runner.Manifest.Parts.Count}-resident{resident}", 0, rounds, () =>
    {
        var output = runner.Run(new[] { input })[0];
        if (load == 0) load = runner.LastTimings.Sum(t => t.LoadSeconds);
        return output;
    }, () => load);
}

static int Report(string what, double load, int rounds, Func<HostTensor> run, Func<double>? loadAfter = null)
{
    var times = new List<double>();
    HostTensor output = null!;
    for (var i = 0; i < rounds; i++)
    {
        var clock = Stopwatch.StartNew();
        output = run();
        times.Add(clock.Elapsed.TotalSeconds);
    }
    var later = times.Skip(1).Order().ToList();
    var median = later.Count == 0 ? times[0] : later[later.Count / 2];
    var hwm = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    var sum = ((float[])output.Data).Sum(v => (double)v);
    Console.WriteLine($"{what} load_s={loadAfter?.Invoke() ?? load:F3} first_s={times[0]:F3} median_s={median:F3} peak_rss_mib={long.Parse(hwm) / 1024.0:F0} checksum={sum:R}");
    return 0;
}
