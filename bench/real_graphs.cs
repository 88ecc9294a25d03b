#:project ../src/Shrink.Training/Shrink.Training.csproj
#:property PublishAot=false

// The checks of bench/real_graphs.sh that the CLI does not make (run that script, not this file). Each prints one JSON line.
//   check MODEL.onnx INPUT.npy OUTPUT.npy  import (graph valid), round trip (written, read and written again: the same
//                                          bytes, and ONNX Runtime's outputs bit for bit the original's), ONNX Runtime
//                                          against PyTorch's output and the executor against ONNX Runtime (largest
//                                          difference of the output's scale), or the executor's refusal in one line
//   masked MODEL.onnx INPUT.npy MULTIPLE   structured pruning (l1-filter, 0.5, layer scope, channel multiple MULTIPLE,
//                                          as `shrink prune` runs it) cut and masked: the cut model's largest
//                                          difference from the masked model's on INPUT, absolute and of the scale
//                                          (or why nothing was cut)
//   fidelity FLOAT.onnx OTHER.onnx DATA.npy  OTHER against FLOAT on DATA (Evaluation.Fidelity: cosine, SQNR, max |error|)
//   layers FLOAT.onnx QUANT.onnx           Conv/ConvTranspose/Gemm/MatMul nodes of FLOAT, and how many of QUANT's read a
//                                          dequantized weight (QDQ) or are integer kernels (QLinear*, *Integer)
using System.Text.Json;
using Shrink;
using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Training;
using Shrink.Training.Execution;
using TorchSharp;

try
{
    return args switch
    {
        ["check", var model, var input, var output] => Check(model, input, output),
        ["masked", var model, var input, var multiple] => Masked(model, input, int.Parse(multiple)),
        ["fidelity", var reference, var candidate, var data] => FidelityOf(reference, candidate, data),
        ["layers", var reference, var quantized] => Layers(reference, quantized),
        _ => Usage(),
    };
}
catch (Exception e)
{
    Print(new { error = Shrink.Text.Message.OneLine($"{e.GetType().Name}: {e.Message}") });
    return 1;
}

static int Check(string path, string inputPath, string outputPath)
{
    var model = OnnxReader.Read(path);
    var problems = GraphValidator.Validate(model);
    var input = Feed(inputPath);
    var reference = NpyFile.Read(outputPath).ToFloat32();
    using var runner = OnnxRunner.Load(path, new RunnerOptions { Threads = 1 });
    var ort = (float[])runner.Run(new[] { input })[0].Data;
    Print(new
    {
        import = problems.Count == 0 ? "ok" : $"{problems.Count} problems: {problems[0]}",
        round_trip = RoundTrip(model, runner, input, ort),
        ort_vs_torch = Relative(reference, ort),
        executor = Executor(model, input, ort),
    });
    return 0;
}

static string RoundTrip(Model model, OnnxRunner original, HostTensor input, float[] ort)
{
    var first = OnnxWriter.ToBytes(model);
    var second = OnnxWriter.ToBytes(OnnxReader.Read(first));
    if (!first.AsSpan().SequenceEqual(second)) return "written twice, the bytes differ";
    using var rewritten = OnnxRunner.FromModel(OnnxReader.Read(first), new RunnerOptions { Threads = 1 });
    var again = (float[])rewritten.Run(new[] { input })[0].Data;
    return again.AsSpan().SequenceEqual(ort) ? "ok" : $"outputs differ by {Relative(ort, again):E1}";
}

static object Executor(Model model, HostTensor input, float[] ort)
{
    TorchRuntime.EnsureInitialized(1);
    try
    {
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var y = TorchTensors.ToHost("output", ex.Forward(TorchTensors.FromHost(input))[0]);
        return Relative(ort, (float[])y.Data);
    }
    catch (UnsupportedOpException e)
    {
        return Shrink.Text.Message.OneLine(e.Message);
    }
    catch (ShrinkUserException e)
    {
        return Shrink.Text.Message.OneLine($"{e.GetType().Name}: {e.Message}");
    }
}

static int Masked(string path, string inputPath, int multiple)
{
    var model = OnnxReader.Read(path);
    var options = new StructuredPruneOptions { Method = PruneMethod.L1Filter, Sparsity = 0.5, ChannelMultiple = multiple };
    try
    {
        var result = new StructuredPrunePass(options).Run(model, new PassContext());
        if (result.Stats.GetValueOrDefault("removed") == 0)
        {
            Print(new { refused = "no channel removed" });
            return 0;
        }
        var cut = result.Model;
        var masked = new StructuredPrunePass(options with { MaskOnly = true }).Run(model, new PassContext()).Model;
        var input = Feed(inputPath);
        using var a = OnnxRunner.FromModel(masked, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(cut, new RunnerOptions { Threads = 1 });
        var (m, c) = ((float[])a.Run(new[] { input })[0].Data, (float[])b.Run(new[] { input })[0].Data);
        Print(new { max_abs = m.Zip(c).Max(p => Math.Abs(p.First - p.Second)), relative = Relative(m, c) });
    }
    catch (ShrinkUserException e)
    {
        Print(new { refused = Shrink.Text.Message.OneLine(e.Message) });
    }
    return 0;
}

static int FidelityOf(string reference, string candidate, string data)
{
    var f = Fidelity.Measure(reference, candidate, NpySource.Open(data), new RunnerOptions { Threads = 2 })[0];
    Print(new { cosine = f.Cosine, sqnr_db = double.IsPositiveInfinity(f.SqnrDb) ? 999 : f.SqnrDb, max_abs = f.MaxAbsError, top1 = f.Top1Agreement });
    return 0;
}

static int Layers(string reference, string quantized)
{
    string[] compute = { "Conv", "ConvTranspose", "Gemm", "MatMul" };
    var total = OnnxReader.Read(reference).Graph.Nodes.Count(n => compute.Contains(n.OpType));
    var q = OnnxReader.Read(quantized).Graph;
    var integer = q.Nodes.Count(n => n.OpType.StartsWith("QLinear") || n.OpType is "ConvInteger" or "MatMulInteger" or "MatMulNBits");
    var qdq = q.Nodes.Count(n => compute.Contains(n.OpType) && n.Inputs.Skip(1).Take(1).Any(v => v?.Producer?.OpType == "DequantizeLinear"));
    Print(new { total, quantized = integer + qdq });
    return 0;
}

static HostTensor Feed(string path)
{
    var a = NpyFile.Read(path);
    return new HostTensor("input", a.ToFloat32(), a.Shape);
}

// The largest |expected − actual| of the largest |expected|.
static double Relative(float[] expected, float[] actual)
{
    if (expected.Length != actual.Length) return double.NaN;
    var scale = Math.Max(1e-12, expected.Max(v => Math.Abs((double)v)));
    return expected.Zip(actual).Max(p => Math.Abs((double)p.First - p.Second)) / scale;
}

static void Print(object value) => Console.WriteLine(JsonSerializer.Serialize(value));

static int Usage()
{
    Console.Error.WriteLine("usage: real_graphs check MODEL INPUT OUTPUT | masked MODEL INPUT MULTIPLE | fidelity FLOAT OTHER DATA | layers FLOAT QUANT");
    return 2;
}
