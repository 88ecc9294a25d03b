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
/// Runtime over the training set (read by sample index; only when the data is not augmented, so a sample reads the
/// same at every epoch), or, when hints or attention pairs need its features, from the training executor at every
/// step under no_grad. Hint adapters — a 1×1 convolution for feature maps, a linear layer for vectors — are trainable
/// tensors of the hook. The label term's weight 1 − α is the trainer's <see cref="TrainOptions.LabelLossWeight"/>
/// (<see cref="LabelLossWeight"/>). On training data without labels (label-free: the teacher is the model before
/// compression) every output is distilled: T²·KL for a classifier output [batch, classes], the mean squared error
/// for any other (a feature map, an embedding), summed over the outputs.
/// </summary>
public sealed class DistillationHook : ITrainingHook, IDisposable
{
    private sealed record Adapter(TensorPair Pair, TorchSharp.Modules.Parameter Weight, TorchSharp.Modules.Parameter Bias, bool Conv, long[] Target);

    private readonly DistillationOptions _options;
    private readonly GraphExecutor? _teacher;
    private readonly Tensor? _cache;  // the teacher's first output per training sample, when it is computed once
    private readonly List<Adapter> _adapters = new();
    private readonly string[] _teacherTaps;
    private readonly int[] _teacherInputs;
    private readonly bool _labelFree;
    private readonly Scalar _one = 1L.ToScalar();
    private readonly Scalar _kdWeight;
    private readonly Scalar _tSquared;
    private readonly Scalar _inverseT;
    private readonly Scalar _hintWeight;
    private readonly Scalar _attentionWeight;
    private readonly string _teacherHash;

    /// <param name="student">The executor being trained.</param>
    /// <param name="teacher">The teacher model (not modified); it takes the student's inputs, matched by name (else by position).</param>
    /// <param name="options">Temperature, α, hints and attention pairs, and whether to cache the teacher's logits.</param>
    /// <param name="train">The training data, for the logit cache and a shape probe; without labels every output is distilled.</param>
    /// <param name="seed">Seed of the adapters' initialisation.</param>
    public DistillationHook(GraphExecutor student, Model teacher, DistillationOptions options, IDataSource train, int seed = 0)
    {
        _options = options.Validate();
        _labelFree = train.ClassCount is null;
        foreach (var pair in options.Hints.Concat(options.Attention))
        {
            CheckTensor("teacher", teacher, pair.Teacher, pair);
            CheckTensor("student", student.Model, pair.Student, pair);
        }
        _teacherTaps = options.Hints.Concat(options.Attention).Select(p => p.Teacher).Distinct().ToArray();
        Taps = options.Hints.Concat(options.Attention).Select(p => p.Student).Distinct().ToArray();
        _teacherInputs = InputOrder(student, teacher);
        var live = _teacherTaps.Length > 0 || !options.CacheLogits || train.Augments || _labelFree && teacher.Graph.Outputs.Count > 1;
        if (live) _teacher = Frozen(teacher);
        Prepare(student, teacher, train, seed);
        if (!live) _cache = CacheLogits(teacher, train);
        if (!live && _cache is null) _teacher = Frozen(teacher);  // the outputs are too large to hold for every sample
        _kdWeight = (options.Alpha * options.Temperature * options.Temperature).ToScalar();
        _tSquared = (options.Temperature * options.Temperature).ToScalar();
        _inverseT = (1 / options.Temperature).ToScalar();
        _hintWeight = options.HintWeight.ToScalar();
        _attentionWeight = (options.AttentionWeight / 2).ToScalar();
        _teacherHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Onnx.OnnxWriter.ToBytes(teacher)))[..16];
    }

    /// <summary>The teacher compiled for the executor, in evaluation mode and frozen.</summary>
    private static GraphExecutor Frozen(Model teacher)
    {
        var executor = GraphExecutor.Compile(teacher);
        executor.Training = false;
        foreach (var p in executor.Parameters) p.Trainable = false;
        return executor;
    }

    /// <summary>Probes both models on a small batch: checks their outputs against each other and makes the hint adapters.</summary>
    private void Prepare(GraphExecutor student, Model teacher, IDataSource train, int seed)
    {
        var (teacherOut, studentOut) = Probe(student, teacher, train);
        try
        {
            if (_labelFree) CheckOutputs(teacherOut, studentOut, teacher.Graph.Outputs.Count, student.Outputs.Count);
            else CheckLogits(teacherOut[0], studentOut[0]);
            MakeAdapters(teacherOut[teacher.Graph.Outputs.Count..], studentOut[student.Outputs.Count..], seed);
        }
        finally
        {
            foreach (var t in teacherOut.Concat(studentOut)) t.Dispose();
        }
    }

    /// <summary>For each teacher input, the index of the student input of the same name (or at the same position).</summary>
    private static int[] InputOrder(GraphExecutor student, Model teacher)
    {
        var names = student.Inputs.Select(v => v.Name).ToList();
        var inputs = teacher.Graph.Inputs.Where(v => !v.IsInitializer).ToList();
        var byName = inputs.All(v => names.Contains(v.Name));
        if (!byName && inputs.Count != names.Count)
            throw new OptionsException($"the teacher takes {string.Join(", ", inputs.Select(v => v.Name))} and the student {string.Join(", ", names)}; distillation feeds both the same inputs, matched by name");
        return inputs.Select((v, i) => byName ? names.IndexOf(v.Name) : i).ToArray();
    }

    /// <summary>The teacher's inputs of a step: the student's, in the teacher's order.</summary>
    private Tensor[] TeacherInputs(IReadOnlyList<Tensor> studentInputs) => _teacherInputs.Select(i => studentInputs[i]).ToArray();

    /// <summary>
    /// One small batch through both models in evaluation mode: every output, then the tapped features, of each (new
    /// tensors the caller disposes), for the output shapes and the shapes the adapters map between.
    /// </summary>
    private (Tensor[] Teacher, Tensor[] Student) Probe(GraphExecutor student, Model teacher, IDataSource train)
    {
        var batch = train.Read(Enumerable.Range(0, Math.Min(2, train.Count)).ToArray());
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var inputs = Trainer.Bind(student, train).ModelInputs(batch).Select(TorchTensors.FromHost).ToArray();
        using var t = _teacher is null ? GraphExecutor.Compile(teacher) : null;
        var teacherExecutor = _teacher ?? t!;
        teacherExecutor.Training = false;
        var teacherOut = teacherExecutor.Run(TeacherInputs(inputs), _teacherTaps).Select(v => v.detach().clone().DetachFromDisposeScope()).ToArray();
        var wasTraining = student.Training;
        student.Training = false;
        try
        {
            return (teacherOut, student.Run(inputs, Taps).Select(v => v.detach().clone().DetachFromDisposeScope()).ToArray());
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

    /// <summary>Label-free: the two models have as many outputs, each of one shape per sample in both.</summary>
    private static void CheckOutputs(Tensor[] teacher, Tensor[] student, int teacherOutputs, int studentOutputs)
    {
        if (teacherOutputs != studentOutputs)
            throw new OptionsException($"the teacher has {teacherOutputs} outputs and the student {studentOutputs}; distillation without labels pairs every output of the two models");
        for (var i = 0; i < teacherOutputs; i++)
            if (!teacher[i].shape.Skip(1).SequenceEqual(student[i].shape.Skip(1)))
                throw new OptionsException($"output {i + 1} of the teacher has shape [{string.Join(", ", teacher[i].shape.Skip(1))}] per sample and the student's " +
                    $"[{string.Join(", ", student[i].shape.Skip(1))}]; distillation without labels compares outputs of one shape");
    }

    /// <summary>A seeded adapter per hint (PyTorch's default initialisation), after checking the shapes of every hint and attention pair.</summary>
    private void MakeAdapters(Tensor[] teacherTaps, Tensor[] studentTaps, int seed)
    {
        long[] Of(Tensor[] taps, string[] names, string name) => taps[Array.IndexOf(names, name)].shape;
        using var generator = new torch.Generator((ulong)seed);
        foreach (var pair in _options.Hints)
        {
            var ts = Of(teacherTaps, _teacherTaps, pair.Teacher);
            var ss = Of(studentTaps, Taps.ToArray(), pair.Student);
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
            var ts = Of(teacherTaps, _teacherTaps, pair.Teacher);
            var ss = Of(studentTaps, Taps.ToArray(), pair.Student);
            if (ts.Length != 4 || ss.Length != 4)
                throw new OptionsException($"attention {pair}: the teacher's tensor has shape [{string.Join(", ", ts)}] and the student's [{string.Join(", ", ss)}]; " +
                    "attention transfer pairs two feature maps [N, C, H, W]");
        }
    }

    /// <summary>The teacher (a hash of its ONNX bytes) and every distillation setting.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint
    {
        get
        {
            var fingerprint = new Dictionary<string, string>
            {
                ["distill.teacher"] = _teacherHash,
                ["distill.loss"] = $"T {_options.Temperature:R}, alpha {_options.Alpha:R}, hint weight {_options.HintWeight:R}, attention weight {_options.AttentionWeight:R}",
                ["distill.pairs"] = $"hints {string.Join(",", _options.Hints)}; attention {string.Join(",", _options.Attention)}",
                ["distill.cache"] = Cached ? "cached" : "live",
            };
            if (_labelFree) fingerprint["distill.outputs"] = "every output, no labels: T²·KL on [batch, classes], MSE on the others";
            return fingerprint;
        }
    }

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

    /// <summary>True on training data without labels: every output is distilled and the labels' loss is absent.</summary>
    public bool LabelFree => _labelFree;

    /// <summary>The distillation loss teaches the student on its own: the trainer may train without labels.</summary>
    public bool Supervises => true;

    public IReadOnlyList<string> Taps { get; }

    public IEnumerable<(string Name, TorchSharp.Modules.Parameter Tensor)> Parameters =>
        _adapters.SelectMany((a, i) => new[] { ($"hint{i}.weight", a.Weight), ($"hint{i}.bias", a.Bias) });

    /// <summary>The most float elements the cache holds (1 GiB); a teacher output larger over the training set runs live.</summary>
    private const long CacheLimit = 1L << 28;

    /// <summary>
    /// The teacher's first output for every training sample, in order (ONNX Runtime, batches of 512): [samples, …] as the
    /// output's per-sample shape, or null when that would hold more than <see cref="CacheLimit"/> elements.
    /// </summary>
    private static Tensor? CacheLogits(Model teacher, IDataSource train)
    {
        using var runner = OnnxRunner.FromModel(teacher, source: "teacher");
        var rows = new List<float[]>();
        long[] sample = [];
        foreach (var (outputs, _) in runner.RunBatches(train, 512))
        {
            var logits = outputs[0];
            sample = logits.Shape[1..];
            if (sample.Aggregate(1L, (a, d) => a * d) * train.Count > CacheLimit) return null;
            rows.Add((float[])logits.Data);
        }
        var all = rows.SelectMany(r => r).ToArray();
        return torch.tensor(all, new long[] { train.Count }.Concat(sample).ToArray()).DetachFromDisposeScope();
    }

    public Tensor? ExtraLoss(TrainStep step)
    {
        Tensor[] teacherOutputs;
        Tensor[] features = Array.Empty<Tensor>();
        if (_cache is not null)
            teacherOutputs = new[] { _cache.index_select(0, torch.tensor(step.Samples.Select(i => (long)i).ToArray())) };
        else
        {
            using var noGrad = torch.no_grad();
            var outputs = _teacher!.Run(TeacherInputs(step.Inputs), _teacherTaps);
            teacherOutputs = outputs[.._teacher.Outputs.Count];
            features = outputs[_teacher.Outputs.Count..];
        }
        var loss = _labelFree ? EveryOutput(step.Outputs, teacherOutputs) : Kd(step.Logits, teacherOutputs[0]);
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

    /// <summary>Label-free: Σ over the outputs of T²·KL for a classifier output [batch, classes], MSE for any other.</summary>
    private Tensor EveryOutput(IReadOnlyList<Tensor> student, Tensor[] teacher)
    {
        Tensor? loss = null;
        for (var i = 0; i < teacher.Length; i++)
        {
            var (s, t) = (student[i], teacher[i].to_type(student[i].dtype));
            var term = s.dim() == 2 && s.shape[1] > 1 ? Kl(s, t).mul(_tSquared) : F.mse_loss(s, t);
            loss = loss is null ? term : loss.add(term, _one);
        }
        return loss!;
    }

    /// <summary>α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)), averaged over the batch.</summary>
    private Tensor Kd(Tensor student, Tensor teacher) => Kl(student, teacher).mul(_kdWeight);

    /// <summary>KL(softmax(z_t/T) ‖ softmax(z_s/T)), averaged over the batch.</summary>
    private Tensor Kl(Tensor student, Tensor teacher)
    {
        var logP = F.log_softmax(student.mul(_inverseT), 1);
        var logQ = F.log_softmax(teacher.mul(_inverseT), 1);
        return F.kl_div(logP, logQ, reduction: nn.Reduction.Sum, log_target: true).div(student.shape[0]);
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
        foreach (var s in new[] { _one, _kdWeight, _tSquared, _inverseT, _hintWeight, _attentionWeight }) s.Dispose();
    }
}
