using System.Diagnostics;
using System.Security.Cryptography;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Training.Execution;
using Shrink.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// Trains a compiled graph with cross-entropy on a labelled data source (or, without labels, on the loss of a
/// hook that supervises, such as distillation from the original model): seeded mini-batches bound to the model's
/// inputs by name (<see cref="DataBinding"/>), an optimizer and learning-rate schedule, hooks for the techniques
/// that train, a checkpoint per epoch (and on cancellation) and exact resumption.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly Optimizer _optimizer;
    private readonly Scalar _one = 1L.ToScalar(); // explicit alpha for add (see Optimizer.S)
    private readonly Scalar _labelWeight;
    private readonly string _modelHash;
    private readonly Dictionary<string, Tensor> _tapValues = new(); // reused: hooks read it during their step only
    private string _data = "";
    private DataBinding? _binding;

    public Trainer(GraphExecutor executor, TrainOptions options, IEnumerable<ITrainingHook>? hooks = null)
    {
        Executor = executor;
        Options = options.Validate();
        _labelWeight = Options.LabelLossWeight.ToScalar();
        Hooks = hooks?.ToList() ?? new List<ITrainingHook>();
        var parameters = executor.Parameters.Where(p => p.Trainable).Select(p => (p.Name, (TorchSharp.Modules.Parameter)p.Tensor))
            .Concat(Hooks.SelectMany(h => h.Parameters.Select(p => ("hook:" + p.Name, p.Tensor)))).ToList();
        if (parameters.Count == 0) throw new OptionsException("the model has no trainable parameters");
        _optimizer = Optimizer.Create(options.Optimizer, parameters, options.Hyper);
        _modelHash = Convert.ToHexString(SHA256.HashData(Onnx.OnnxWriter.ToBytes(executor.Model)))[..16];
    }

    /// <summary>Applies graph rewrites (for example fake quantization) to a copy of a model and compiles the result.</summary>
    public static GraphExecutor Prepare(Model model, IEnumerable<IPass>? rewrites = null, PassContext? context = null)
    {
        var list = rewrites?.ToList() ?? new List<IPass>();
        if (list.Count == 0) return GraphExecutor.Compile(model);
        var result = new PassPipeline(list.ToArray()).Run(model, context ?? new PassContext()); // the pipeline works on its own copy
        return GraphExecutor.Compile(result.Model);
    }

    public GraphExecutor Executor { get; }
    public TrainOptions Options { get; }
    public List<ITrainingHook> Hooks { get; }
    public Optimizer Optimizer => _optimizer;

    /// <summary>Epoch metrics so far (including those restored from a checkpoint).</summary>
    public List<EpochMetrics> History { get; } = new();

    /// <summary>Reports progress within epochs, after every optimizer step (renderers throttle themselves).</summary>
    public event Action<TrainProgress>? Progress;

    /// <summary>Reports each finished epoch.</summary>
    public event Action<EpochMetrics>? EpochEnd;

    /// <summary>Notes for the user, one line each: which checkpoint a resumed run continues from, and why.</summary>
    public event Action<string>? Notice;

    /// <summary>
    /// Trains for the configured epochs (continuing from the run directory's checkpoint when resuming: a
    /// finished run trains nothing and keeps the restored weights). The run directory gets a checkpoint after
    /// every epoch; on cancellation one at the current batch, then <see cref="TrainingInterruptedException"/>.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Fit(IDataSource train, IDataSource? test = null, CancellationToken cancel = default)
    {
        _binding = Bind(Executor, train);
        if (test is not null) Bind(Executor, test);
        if (train.ClassCount is null && !Hooks.Any(h => h.Supervises))
            throw new DataException($"{train.Name} has no labels and no training hook supervises the model; give labelled data, or distill from a teacher (label-free fine-tuning distills from the original model)");
        _data = DataOf(train);
        var loader = new BatchLoader(train, Options.BatchSize, Options.Seed);
        var state = Options.Resume ? Restore(CheckpointRunFor(train)) : new CheckpointState();
        if (Options.RunDirectory is { } runDirectory)
            RunOutput.Write(runDirectory, "nothing was trained", () => Directory.CreateDirectory(runDirectory));
        foreach (var hook in Hooks) hook.OnTrainStart(this);
        var taps = Hooks.SelectMany(h => h.Taps).Distinct().ToList();
        for (var epoch = state.Epoch; epoch < Options.Epochs; epoch++)
        {
            var counters = epoch == state.Epoch && state.Batch > 0 ? EpochCounters.From(state) : new EpochCounters();
            var metrics = TrainEpoch(loader, epoch, counters, taps, test, cancel);
            History.Add(metrics);
            foreach (var hook in Hooks) hook.OnEpochEnd(metrics);
            EpochEnd?.Invoke(metrics);
            SaveCheckpoint(new CheckpointState { Epoch = epoch + 1, Steps = _optimizer.Steps });
        }
        Executor.Training = false;
        return History;
    }

    /// <summary>Sums of a partly trained epoch: where it continues and what it has measured so far.</summary>
    private sealed class EpochCounters
    {
        public int Batch;
        public double LossSum, SecondsBefore;
        public long Correct, Seen;
        public bool Labelled = true;

        /// <summary>The running train accuracy, null without labels.</summary>
        public double? Accuracy => Labelled ? (double)Correct / Seen : null;

        public static EpochCounters From(CheckpointState s) =>
            new() { Batch = s.Batch, LossSum = s.LossSum, SecondsBefore = s.Seconds, Correct = s.Correct, Seen = s.Seen };
    }

    /// <summary>One epoch from <paramref name="run"/>'s batch on (a fresh epoch reseeds the generator), then its evaluation.</summary>
    private EpochMetrics TrainEpoch(BatchLoader loader, int epoch, EpochCounters run, List<string> taps, IDataSource? test, CancellationToken cancel)
    {
        if (run.Batch == 0) torch.manual_seed(Options.Seed * 7919L + epoch);
        var order = loader.Order(epoch);
        var clock = Stopwatch.StartNew();
        Executor.Training = true;
        for (var batch = run.Batch; batch < loader.Batches; batch++)
        {
            if (cancel.IsCancellationRequested) Interrupt(epoch, batch, run, run.SecondsBefore + clock.Elapsed.TotalSeconds, cancel);
            Step(loader, order, epoch, batch, taps, run);
            Progress?.Invoke(new TrainProgress(epoch, Options.Epochs, batch + 1, loader.Batches, run.LossSum / run.Seen, run.Accuracy,
                run.Seen / Math.Max(1e-9, run.SecondsBefore + clock.Elapsed.TotalSeconds)));
        }
        var seconds = run.SecondsBefore + clock.Elapsed.TotalSeconds;
        Evaluation? eval = test is { ClassCount: not null } && Options.EvaluateEachEpoch ? Evaluate(test) : null;
        return new EpochMetrics(epoch + 1, run.LossSum / run.Seen, run.Accuracy, eval?.Loss, eval?.Accuracy,
            _optimizer.LearningRate, seconds, run.Seen / seconds);
    }

    /// <summary>Writes the checkpoint of a run stopped before <paramref name="batch"/> of <paramref name="epoch"/> and throws.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Interrupt(int epoch, int batch, EpochCounters run, double seconds, CancellationToken cancel)
    {
        var position = new CheckpointState
        {
            Epoch = epoch, Batch = batch, Steps = _optimizer.Steps, LossSum = run.LossSum, Correct = run.Correct, Seen = run.Seen, Seconds = seconds,
        };
        SaveCheckpoint(position);
        throw new TrainingInterruptedException(Options.RunDirectory is { } dir ? Checkpoint.PathIn(dir) : null, CheckpointResume.Describe(position), cancel);
    }

    /// <summary>One optimizer step on a batch: forward (with the hooks' taps), loss, backward, update, the hooks' after-step work.</summary>
    private void Step(BatchLoader loader, int[] order, int epoch, int batch, List<string> taps, EpochCounters run)
    {
        using var scope = torch.NewDisposeScope();
        var (samples, x, y) = loader.Get(order, batch, _binding!, epoch);
        _optimizer.LearningRate = Options.Schedule.RateAt(Options.Hyper.LearningRate, _optimizer.Steps, loader.Batches, Options.Epochs);
        var outputs = Executor.Run(x, taps);
        var logits = outputs[0];
        for (var i = 0; i < taps.Count; i++) _tapValues[taps[i]] = outputs[Executor.Outputs.Count + i]; // after every graph output
        var step = new TrainStep(Executor, epoch, batch, _optimizer.Steps, samples, x, y, outputs[..Executor.Outputs.Count], _tapValues);
        var loss = y is null ? null : F.cross_entropy(logits, y, label_smoothing: Options.LabelSmoothing);
        if (loss is not null && Options.LabelLossWeight != 1) loss = loss.mul(_labelWeight);
        foreach (var hook in Hooks)
            if (hook.ExtraLoss(step) is { } extra) loss = loss is null ? extra : loss.add(extra, _one);
        if (loss is null) throw new DataException($"batch {batch + 1} has no labels and no hook gave a loss; give labelled data or distill from a teacher");
        _optimizer.ZeroGrad();
        loss.backward();
        _optimizer.Step();
        if (Hooks.Count > 0)
            using (torch.no_grad())
                foreach (var hook in Hooks) hook.AfterStep(step);
        var lossValue = loss.item<float>();
        if (!float.IsFinite(lossValue))
            throw new RuntimeFailureException($"the loss became {lossValue} at epoch {epoch + 1}, batch {batch + 1}; lower the learning rate or check the data");
        run.LossSum += lossValue * samples.Length;
        if (y is not null) run.Correct += logits.argmax(1).eq(y).sum().item<long>();
        run.Labelled &= y is not null;
        run.Seen += samples.Length;
    }

    /// <summary>
    /// How <paramref name="data"/> feeds the executor's inputs (<see cref="DataBinding"/>: by name or the single one, flattened
    /// for a 2-D input, int32↔int64), or one line saying why it does not fit.
    /// </summary>
    /// <exception cref="DataException">The data does not fit the model.</exception>
    internal static DataBinding Bind(GraphExecutor executor, IDataSource data) => DataBinding.For(executor.Inputs, data);

    /// <summary>Cross-entropy and accuracy on a labelled data source, in eval mode.</summary>
    public Evaluation Evaluate(IDataSource data) => Evaluate(Executor, data, Options.EvalBatchSize);

    /// <summary>Cross-entropy and accuracy of an executor's first output on a labelled data source, in eval mode (the mode is restored afterwards).</summary>
    /// <exception cref="DataException">The data has no labels or does not fit the model.</exception>
    public static Evaluation Evaluate(GraphExecutor executor, IDataSource data, int batchSize = 1000)
    {
        var binding = Bind(executor, data);
        if (data.ClassCount is null) throw new DataException($"{data.Name} has no labels; accuracy needs labelled data");
        var wasTraining = executor.Training;
        executor.Training = false;
        try
        {
            using var noGrad = torch.no_grad();
            var loader = new BatchLoader(data, batchSize, 0);
            var order = Enumerable.Range(0, data.Count).ToArray();
            double lossSum = 0;
            long correct = 0;
            for (var b = 0; b < loader.Batches; b++)
            {
                using var scope = torch.NewDisposeScope();
                var (_, x, y) = loader.Get(order, b, binding);
                var logits = executor.Forward(x)[0];
                lossSum += F.cross_entropy(logits, y!).item<float>() * y!.shape[0];
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return new Evaluation(lossSum / data.Count, (double)correct / data.Count, data.Count);
        }
        finally
        {
            executor.Training = wasTraining;
        }
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _one.Dispose();
        _labelWeight.Dispose();
    }
}
