#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// The measurements of bench/transformer_base.sh (run that script, not this file):
//   RUNS THREADS FLOAT.onnx [LABEL=MODEL.onnx ...]
// prints one markdown table, a row per model: file size, parameters, output fidelity against the float model
// (cosine and the largest difference of the output's scale, over `last_hidden_state` of 4 seeded random samples of
// 128 tokens, some padded), and ONNX Runtime latency at batch 1 × sequence 128 and batch 1 × sequence 512 (median of
// RUNS runs, all models interleaved in every round after 2 warm-up rounds, THREADS intra-op threads, one session per
// model and length kept for the whole run).
using System.Diagnostics;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Stats;

if (args.Length < 3 || !int.TryParse(args[0], out var runs) || !int.TryParse(args[1], out var threads))
{
    Console.Error.WriteLine("usage: transformer_base RUNS THREADS FLOAT.onnx [LABEL=MODEL.onnx ...]");
    return 2;
}
var models = new List<(string Label, string Path)> { ("float", args[2]) };
models.AddRange(args.Skip(3).Select(a => a.Split('=', 2)).Select(p => (p[0], p[1])));
var vocab = OnnxReader.Read(args[2]).Graph.Nodes.First(n => n.OpType == "Gather" && n.Inputs[0]?.Const is not null).Inputs[0]!.Const!.Dims[0];
int[] lengths = [128, 512];

// Fidelity first, one model at a time (the float outputs kept, each session disposed before the next).
var probe = Tokens(4, 128, vocab, 1);
float[] Output(string path)
{
    using var r = OnnxRunner.Load(path, new RunnerOptions { Threads = threads });
    return (float[])r.Run(probe)[0].Data;
}
var reference = Output(args[2]);
var fidelity = models.Select(m => m.Label == "float" ? (Cosine: 1.0, Difference: 0.0) : Compare(reference, Output(m.Path))).ToList();

// Latency: every model at every length, interleaved round by round.
var times = models.Select(_ => lengths.Select(_ => new List<double>()).ToArray()).ToArray();
for (var li = 0; li < lengths.Length; li++)
{
    var inputs = Tokens(1, lengths[li], vocab, 2);
    var runners = models.Select(m => OnnxRunner.Load(m.Path, new RunnerOptions { Threads = threads })).ToList();
    try
    {
        for (var round = 0; round < runs + 2; round++)
        {
            var order = Enumerable.Range(0, models.Count).ToList();
            if (round % 2 == 1) order.Reverse();
            foreach (var i in order)
            {
                var watch = Stopwatch.StartNew();
                runners[i].Run(inputs);
                if (round >= 2) times[i][li].Add(watch.Elapsed.TotalMilliseconds);
            }
        }
    }
    finally { runners.ForEach(r => r.Dispose()); }
}

var floatBytes = new FileInfo(args[2]).Length;
var floatParams = ModelStats.Compute(OnnxReader.Read(args[2])).Parameters;
Console.WriteLine($"| model | file | parameters | cosine vs float | largest difference (of the scale) | batch 1 × seq 128 | batch 1 × seq 512 |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
for (var i = 0; i < models.Count; i++)
{
    var bytes = new FileInfo(models[i].Path).Length;
    var parameters = ModelStats.Compute(OnnxReader.Read(models[i].Path)).Parameters;
    var latency = lengths.Select((_, li) => Median(times[i][li])).ToArray();
    var baseLatency = lengths.Select((_, li) => Median(times[0][li])).ToArray();
    string Speed(int li) => i == 0 ? $"{latency[li]:F1} ms" : $"{latency[li]:F1} ms ({baseLatency[li] / latency[li]:F2}x)";
    Console.WriteLine($"| {models[i].Label} | {bytes / 1048576.0:F1} MiB ({(double)floatBytes / bytes:F2}x smaller) | {parameters / 1e6:F1} M ({100 * ((double)parameters / floatParams - 1):+0;-0} %) | {fidelity[i].Cosine:F5} | {fidelity[i].Difference:E2} | {Speed(0)} | {Speed(1)} |"
        .Replace(" (1.00x smaller)", "").Replace(" (+0 %)", "").Replace(" (-0 %)", ""));
}
return 0;

static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);

static (double Cosine, double Difference) Compare(float[] x, float[] y)
{
    double dot = 0, nx = 0, ny = 0, worst = 0, scale = 0;
    for (var i = 0; i < x.Length; i++)
    {
        dot += (double)x[i] * y[i];
        nx += (double)x[i] * x[i];
        ny += (double)y[i] * y[i];
        worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
        scale = Math.Max(scale, Math.Abs(x[i]));
    }
    return (dot / Math.Sqrt(nx * ny), worst / scale);
}

static HostTensor[] Tokens(int batch, int seq, long vocab, int seed)
{
    var random = new Random(seed);
    var ids = Enumerable.Range(0, batch * seq).Select(_ => (long)random.Next((int)vocab)).ToArray();
    var mask = Enumerable.Range(0, batch * seq).Select(i => i % seq < seq - i / seq % 4 * (seq / 8) ? 1L : 0L).ToArray(); // some padding
    return [new HostTensor("input_ids", ids, [batch, seq]), new HostTensor("attention_mask", mask, [batch, seq])];
}
