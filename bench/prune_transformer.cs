#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// The measurements of bench/prune_transformer.sh (run that script, not this file):
//   FLOAT.onnx PRUNED.onnx SEQ BATCH RUNS THREADS
// prints a markdown table: attention + feed-forward MACs per sample of SEQ tokens (every MatMul/Gemm with a constant
// weight: SEQ · |W|; every attention block: 2 · SEQ² · H·d for Q·Kᵀ and the product with V), parameters, ONNX Runtime
// latency at BATCH × SEQ (median of RUNS interleaved runs after 2 warm-ups each, THREADS intra-op threads), and the
// pruned model against the masked model (StructuredPrunePass with MaskOnly, the same options as `shrink prune
// --method l1-filter --sparsity 0.5`) on seeded random tokens: the largest difference of the output's scale.
using System.Diagnostics;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Stats;

if (args is not [var floatPath, var prunedPath, var seqText, var batchText, var runsText, var threadsText])
{
    Console.Error.WriteLine("usage: prune_transformer FLOAT.onnx PRUNED.onnx SEQ BATCH RUNS THREADS");
    return 2;
}
var (seq, batch, runs, threads) = (int.Parse(seqText), int.Parse(batchText), int.Parse(runsText), int.Parse(threadsText));
var (dense, pruned) = (OnnxReader.Read(floatPath), OnnxReader.Read(prunedPath));
var masked = new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethod.L1Filter, Sparsity = 0.5, MaskOnly = true }).Run(dense, new PassContext()).Model;
var vocab = dense.Graph.Nodes.First(n => n.OpType == "Gather" && n.Inputs[0]?.Const is not null).Inputs[0]!.Const!.Dims[0];
var difference = Difference(masked, pruned, Tokens(2, 16, vocab, 1), threads);
var (before, after) = (BlockMacs(dense, seq), BlockMacs(pruned, seq));
var (paramsBefore, paramsAfter) = (ModelStats.Compute(dense).Parameters, ModelStats.Compute(pruned).Parameters);
var (latencyBefore, latencyAfter) = Latency(floatPath, prunedPath, Tokens(batch, seq, vocab, 2), runs, threads);
var heads = AttentionHeads.Find(dense).Blocks;
var headsAfter = AttentionHeads.Find(pruned).Blocks;
Console.WriteLine($"| | float | pruned (l1-filter, 0.5) | change |");
Console.WriteLine($"|---|---:|---:|---:|");
Console.WriteLine($"| attention heads (all blocks) | {heads.Sum(b => b.Heads)} | {headsAfter.Sum(b => b.Heads)} | {Percent(heads.Sum(b => b.Heads), headsAfter.Sum(b => b.Heads))} |");
Console.WriteLine($"| attention + FFN MACs per sample (seq {seq}) | {before:N0} | {after:N0} | {Percent(before, after)} removed |");
Console.WriteLine($"| parameters | {paramsBefore:N0} | {paramsAfter:N0} | {Percent(paramsBefore, paramsAfter)} removed |");
Console.WriteLine($"| ONNX Runtime latency, batch {batch} × seq {seq}, {threads} threads (median of {runs} interleaved) | {latencyBefore:F1} ms | {latencyAfter:F1} ms | {latencyBefore / latencyAfter:F2}x faster |");
Console.WriteLine($"| pruned vs masked model, largest difference of the output's scale | | {difference:E2} | (bound 1e-4) |");
return 0;

static string Percent(double before, double after) => $"{100 * (1 - after / before):F1} %";

static long BlockMacs(Model model, int tokens) =>
    model.Graph.Nodes.Where(n => n.OpType is "MatMul" or "Gemm" && n.Inputs[1]?.Const is not null).Sum(n => tokens * n.Inputs[1]!.Const!.ElementCount)
    + AttentionHeads.Find(model).Blocks.Sum(b => 2L * tokens * tokens * b.Width);

static HostTensor[] Tokens(int batch, int seq, long vocab, int seed)
{
    var random = new Random(seed);
    var ids = Enumerable.Range(0, batch * seq).Select(_ => (long)random.Next((int)vocab)).ToArray();
    var mask = Enumerable.Range(0, batch * seq).Select(i => i % seq < seq - i / seq % 4 ? 1L : 0L).ToArray(); // some padding
    return new[] { new HostTensor("input_ids", ids, new long[] { batch, seq }), new HostTensor("attention_mask", mask, new long[] { batch, seq }) };
}

static double Difference(Model a, Model b, HostTensor[] inputs, int threads)
{
    using var ra = OnnxRunner.FromModel(a, new RunnerOptions { Threads = threads });
    using var rb = OnnxRunner.FromModel(b, new RunnerOptions { Threads = threads });
    var (x, y) = ((float[])ra.Run(inputs)[0].Data, (float[])rb.Run(inputs)[0].Data);
    return x.Zip(y).Max(p => Math.Abs(p.First - p.Second)) / x.Max(Math.Abs);
}

static (double Before, double After) Latency(string a, string b, HostTensor[] inputs, int runs, int threads)
{
    using var ra = OnnxRunner.Load(a, new RunnerOptions { Threads = threads });
    using var rb = OnnxRunner.Load(b, new RunnerOptions { Threads = threads });
    double Time(OnnxRunner r)
    {
        var watch = Stopwatch.StartNew();
        r.Run(inputs);
        return watch.Elapsed.TotalMilliseconds;
    }
    for (var i = 0; i < 2; i++) (_, _) = (Time(ra), Time(rb));
    var (ta, tb) = (new List<double>(), new List<double>());
    for (var i = 0; i < runs; i++)
        if (i % 2 == 0) { ta.Add(Time(ra)); tb.Add(Time(rb)); }
        else { tb.Add(Time(rb)); ta.Add(Time(ra)); }
    static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
    return (Median(ta), Median(tb));
}
