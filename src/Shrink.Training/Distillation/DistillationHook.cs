using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Distillation;

/// <summary>
/// Knowledge distillation as a training hook (see <see cref="DistillationOptions"/> for the loss). The
/// teacher is frozen and runs in evaluation mode: its logits come from a cache computed once in ONNX
/// Runtime over the training set (read by sample index), or, when hints or attention pairs need its
/// features, from the training executor at every step under no_grad. Hint adapters — a 1×1 convolution
/// for feature maps, a linear layer for vectors — are trainable tensors of the hook. The label term's
/// weight 1 − α is the trainer's <see cref="TrainOptions.LabelLossWeight"/> (<see cref="LabelLossWeight"/>).
/// </summary>
public sealed class DistillationHook : ITrainingHook, IDisposable
{
    private sealed record Adapter(TensorPair Pair, TorchSharp.Modules.Parameter Weight, TorchSharp.Modules.Parameter Bias, bool Conv, long[] Target);

    private readonly DistillationOptions _options;
    private readonly GraphExecutor? _teacher;
    private readonly Tensor? _cache;
    private readonly List<Adapter> _adapters = new();
    private readonly string[] _teacherTaps;
    private readonly Scalar _one = 1L.ToScalar();
    private readonly Scalar _kdWeight;
    private readonly Scalar _inverseT;
    private readonly Scalar _hintWeight;
    private readonly Scalar _attentionWeight;
    private readonly string _teacherHash;

    /// <param name="student">The executor being trained.</param>
    /// <param name="teacher">The teacher model (not modified).</param>
    /// <param name="options">Temperature, α, hints and attention pairs, and whether to cache the teacher's logits.</param>
    /// <param name="train">The training set, for the logit cache and a shape probe.</param>
    /// <param name="seed">Seed of the adapters' initialisation.</param>
    public DistillationHook(GraphExecutor student, Model teacher, DistillationOptions options, Dataset train, int seed = 0)
    {
        _options = options.Validate();
        foreach (var pair in options.Hints.Concat(options.Attention))
        {
            CheckTensor("teacher", teacher, pair.Teacher, pair);
            CheckTensor("student", student.Model, pair.Student, pair);
        }
        _teacherTaps = options.Hints.Concat(options.Attention).Select(p => p.Teacher).Distinct().ToArray();
        Taps = options.Hints.Concat(options.Attention).Select(p => p.Student).Distinct().ToArray();
        var live = _teacherTaps.Length > 0 || !options.CacheLogits;
        if (live)
        {
            _teacher = GraphExecutor.Compile(teacher);
            _teacher.Training = false;
            foreach (var p in _teacher.Parameters) p.Trainable = false;
        }
        var (teacherOut, studentOut) = Probe(student, teacher, train);
        try
        {
            CheckLogits(teacherOut[0], studentOut[0]);
            MakeAdapters(teacherOut, studentOut, seed);
        }
        finally
        {
            foreach (var t in teacherOut.Concat(studentOut)) t.Dispose();
        }

        if (!live) _cache = CacheLogits(teacher, train);
        _kdWeight = (options.Alpha * options.Temperature * options.Temperature).ToScalar();
        _inverseT = (1 / options.Temperature).ToScalar();
        _hintWeight = options.HintWeight.ToScalar();
        _attentionWeight = (options.AttentionWeight / 2).ToScalar();
        _teacherHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Onnx.OnnxWriter.ToBytes(teacher)))[..16];
    }

    /// <summary>
    /// One small batch through both models in evaluation mode: the first output and the tapped features of
    /// each (new tensors the caller disposes), for the output sizes and the shapes the adapters map between.
    /// </summary>
    private (Tensor[] Teacher, Tensor[] Student) Probe(GraphExecutor student, Model teacher, Dataset train)
    {
        var probe = Math.Min(2, train.Count);
        var (x, _) = train.Batch(0, probe);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var input = torch.tensor(x, new long[] { probe }.Concat(train.SampleShape.Select(d => (long)d)).ToArray());
        using var t = _teacher is null ? GraphExecutor.Compile(teacher) : null;
        var teacherExecutor = _teacher ?? t!;
        teacherExecutor.Training = false;
        // Run returns every graph output, then the taps: keep the first output and the taps.
        var teacherOut = FirstAndTaps(teacherExecutor.Run(new[] { input }, _teacherTaps), teacherExecutor.Outputs.Count)
            .Select(v => v.detach().clone().DetachFromDisposeScope()).ToArray();
        var wasTraining = student.Training;
        student.Training = false;
        try
        {
            var studentOut = FirstAndTaps(student.Run(new[] { input }, Taps), student.Outputs.Count)
                .Select(v => v.detach().clone().DetachFromDisposeScope()).ToArray();
            return (teacherOut, studentOut);
        }
        catch
        {
            foreach (var v in teacherOut) v.Dispose();
            throw;
        }
        finally
        {
            student.Training = wasTraining;
        }
    }

    private static void CheckLogits(Tensor teacher, Tensor student)
    {
        var (tk, sk) = (teacher.shape.Skip(1).Aggregate(1L, (a, b) => a * b), student.shape.Skip(1).Aggregate(1L, (a, b) => a * b));
        if (teacher.dim() != 2 || student.dim() != 2 || tk != sk)
            throw new OptionsException($"the teacher's output has shape [{string.Join(", ", teacher.shape.Skip(1))}] per sample and the student's " +
                $"[{string.Join(", ", student.shape.Skip(1))}]; distillation needs both to give logits over the same classes");
    }

    /// <summary>A seeded adapter per hint (PyTorch's default initialisation), after checking the shapes of every hint and attention pair.</summary>
    private void MakeAdapters(Tensor[] teacherOut, Tensor[] studentOut, int seed)
    {
        long[] Of(Tensor[] outputs, string[] names, string name) => outputs[1 + Array.IndexOf(names, name)].shape;
        using var generator = new torch.Generator((ulong)seed);
        foreach (var pair in _options.Hints)
        {
            var ts = Of(teacherOut, _teacherTaps, pair.Teacher);
            var ss = Of(studentOut, Taps.ToArray(), pair.Student);
            var conv = ts.Length == 4 && ss.Length == 4;
            if (!conv && !(ts.Length == 2 && ss.Length == 2))
                throw new OptionsException($"hint {pair}: the teacher's tensor has shape [{string.Join(", ", ts)}] and the student's [{string.Join(", ", ss)}]; " +
                    "a hint pairs two feature maps [N, C, H, W] or two vectors [N, F]");
            long cin = ss[1], cout = ts[1];
            var bound = 1 / Math.Sqrt(cin); // PyTorch's default for Conv2d and Linear
            var weight = torch.rand(conv ? new[] { cout, cin, 1L, 1L } : new[] { cout, cin }, generator: generator).mul_(2 * bound).sub_(bound);
            var bias = torch.rand(new[] { cout }, generator: generator).mul_(2 * bound).sub_(bound);
            _adapters.Add(new Adapter(pair, new TorchSharp.Modules.Parameter(weight.DetachFromDisposeScope()),
                new TorchSharp.Modules.Parameter(bias.DetachFromDisposeScope()), conv, ts.ToArray()));
        }
        foreach (var pair in _options.Attention)
        {
            var ts = Of(teacherOut, _teacherTaps, pair.Teacher);
            var ss = Of(studentOut, Taps.ToArray(), pair.Student);
            if (ts.Length != 4 || ss.Length != 4)
                throw new OptionsException($"attention {pair}: the teacher's tensor has shape [{string.Join(", ", ts)}] and the student's [{string.Join(", ", ss)}]; " +
                    "attention transfer pairs two feature maps [N, C, H, W]");
        }
    }

    /// <summary>The teacher (a hash of its ONNX bytes) and every distillation setting.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["distill.teacher"] = _teacherHash,
        ["distill.loss"] = $"T {_options.Temperature:R}, alpha {_options.Alpha:R}, hint weight {_options.HintWeight:R}, attention weight {_options.AttentionWeight:R}",
        ["distill.pairs"] = $"hints {string.Join(",", _options.Hints)}; attention {string.Join(",", _options.Attention)}",
        ["distill.cache"] = Cached ? "cached" : "live",
    };

    private static void CheckTensor(string role, Model model, string name, TensorPair pair)
    {
        if (model.Graph.Nodes.Any(n => n.Outputs.Any(o => o?.Name == name))) return;
        var names = model.Graph.TopologicalOrder().SelectMany(n => n.Outputs).OfType<Value>().Select(v => v.Name).ToList();
        throw new OptionsException($"the {role} has no tensor named '{name}' ({pair}); its node outputs are {string.Join(", ", names.Take(30))}{(names.Count > 30 ? ", …" : "")}");
    }

    /// <summary>The weight the trainer gives the labels' cross-entropy: 1 − α.</summary>
    public double LabelLossWeight => 1 - _options.Alpha;

    /// <summary>True when the teacher's logits were computed once, before training.</summary>
    public bool Cached => _cache is not null;

    public IReadOnlyList<string> Taps { get; }

    public IEnumerable<(string Name, TorchSharp.Modules.Parameter Tensor)> Parameters =>
        _adapters.SelectMany((a, i) => new[] { ($"hint{i}.weight", a.Weight), ($"hint{i}.bias", a.Bias) });

    /// <summary>The teacher's logits for every training sample, in order (ONNX Runtime, batches of 512).</summary>
    private static Tensor CacheLogits(Model teacher, Dataset train)
    {
        using var runner = OnnxRunner.FromModel(teacher, source: "teacher");
        var rows = new List<float[]>();
        long classes = 0;
        foreach (var (outputs, _) in runner.RunBatches(train, 512))
        {
            var logits = outputs[0];
            classes = logits.Shape[^1];
            rows.Add((float[])logits.Data);
        }
        var all = rows.SelectMany(r => r).ToArray();
        return torch.tensor(all, new[] { train.Count, classes }).DetachFromDisposeScope();
    }

    public Tensor? ExtraLoss(TrainStep step)
    {
        Tensor teacherLogits;
        Tensor[] features = Array.Empty<Tensor>();
        if (_cache is not null)
            teacherLogits = _cache.index_select(0, torch.tensor(step.Samples.Select(i => (long)i).ToArray()));
        else
        {
            using var noGrad = torch.no_grad();
            var outputs = _teacher!.Run(new[] { step.Inputs }, _teacherTaps);
            teacherLogits = outputs[0];
            features = outputs.Skip(_teacher.Outputs.Count).ToArray();
        }
        var loss = Kd(step.Logits, teacherLogits);
        foreach (var a in _adapters)
        {
            var s = step.Taps[a.Pair.Student];
            var t = features[Array.IndexOf(_teacherTaps, a.Pair.Teacher)];
            var mapped = a.Conv ? F.conv2d(s, a.Weight, a.Bias) : F.linear(s, a.Weight, a.Bias);
            (mapped, t) = SameSize(mapped, t);
            loss = loss.add(F.mse_loss(mapped, t).mul(_hintWeight), _one);
        }
        foreach (var pair in _options.Attention)
        {
            var (s, t) = SameSize(AttentionMap(step.Taps[pair.Student]), AttentionMap(features[Array.IndexOf(_teacherTaps, pair.Teacher)]));
            var n = s.shape[0];
            var diff = F.normalize(s.reshape(n, -1), dim: 1).sub(F.normalize(t.reshape(n, -1), dim: 1));
            loss = loss.add(diff.pow(2).mean().mul(_attentionWeight), _one);
        }
        return loss;
    }

    /// <summary>The first graph output followed by the taps (dropping any further graph outputs).</summary>
    private static IEnumerable<Tensor> FirstAndTaps(Tensor[] outputs, int graphOutputs) => outputs.Take(1).Concat(outputs.Skip(graphOutputs));

    /// <summary>α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)), averaged over the batch.</summary>
    private Tensor Kd(Tensor student, Tensor teacher)
    {
        var logP = F.log_softmax(student.mul(_inverseT), 1);
        var logQ = F.log_softmax(teacher.mul(_inverseT), 1);
        return F.kl_div(logP, logQ, reduction: nn.Reduction.Sum, log_target: true).div(student.shape[0]).mul(_kdWeight);
    }

    /// <summary>Σ_c x², the spatial attention map [N, 1, H, W] (normalised later).</summary>
    private static Tensor AttentionMap(Tensor x) => x.pow(2).mean(new long[] { 1 }, keepdim: true);

    /// <summary>Two feature maps brought to the smaller height and width by average pooling (vectors pass unchanged).</summary>
    private static (Tensor, Tensor) SameSize(Tensor a, Tensor b)
    {
        if (a.dim() != 4 || a.shape[2] == b.shape[2] && a.shape[3] == b.shape[3]) return (a, b);
        var size = new[] { Math.Min(a.shape[2], b.shape[2]), Math.Min(a.shape[3], b.shape[3]) };
        return (F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size));
    }

    public void Dispose()
    {
        _teacher?.Dispose();
        _cache?.Dispose();
        foreach (var a in _adapters)
        {
            a.Weight.Dispose();
            a.Bias.Dispose();
        }
        foreach (var s in new[] { _one, _kdWeight, _inverseT, _hintWeight, _attentionWeight }) s.Dispose();
    }
}
