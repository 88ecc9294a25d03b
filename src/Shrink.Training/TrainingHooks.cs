using Shrink.Training.Execution;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>One optimizer step as hooks see it. Tensors belong to the step's dispose scope.</summary>
public sealed class TrainStep
{
    internal TrainStep(GraphExecutor executor, int epoch, int batch, long globalStep, int[] samples, IReadOnlyList<Tensor> inputs, Tensor? labels,
        IReadOnlyList<Tensor> outputs, IReadOnlyDictionary<string, Tensor> taps)
    {
        Executor = executor;
        Epoch = epoch;
        Batch = batch;
        GlobalStep = globalStep;
        Samples = samples;
        Inputs = inputs;
        Labels = labels;
        Outputs = outputs;
        Taps = taps;
    }

    public GraphExecutor Executor { get; }
    public int Epoch { get; }
    public int Batch { get; }

    /// <summary>Optimizer steps taken before this one.</summary>
    public long GlobalStep { get; }

    /// <summary>The training-set indices of this batch's samples (for per-sample caches such as teacher logits).</summary>
    public int[] Samples { get; }

    /// <summary>The model's inputs, in the executor's input order.</summary>
    public IReadOnlyList<Tensor> Inputs { get; }

    /// <summary>The labels as int64 [B], or null when the data has none (label-free training: a hook gives the loss).</summary>
    public Tensor? Labels { get; }

    /// <summary>Every graph output, in order.</summary>
    public IReadOnlyList<Tensor> Outputs { get; }

    /// <summary>The model's first output.</summary>
    public Tensor Logits => Outputs[0];

    /// <summary>Intermediate tensors requested by hooks (<see cref="ITrainingHook.Taps"/>), by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Taps { get; }
}

/// <summary>
/// Extension points of the trainer, used by the techniques that train: extra loss terms
/// (distillation), work after each optimizer step (pruning masks, clustering), extra trainable
/// tensors (hint adapters). Graph rewrites before training (fake quantization) are passes applied to
/// the model before it is compiled; see <see cref="Trainer.Prepare"/>.
/// </summary>
public interface ITrainingHook
{
    /// <summary>Intermediate values of the graph the hook reads in <see cref="ExtraLoss"/>.</summary>
    IReadOnlyList<string> Taps => Array.Empty<string>();

    /// <summary>Trainable tensors the hook owns; the optimizer updates them with the model's and checkpoints save them.</summary>
    IEnumerable<(string Name, TorchSharp.Modules.Parameter Tensor)> Parameters => Array.Empty<(string, TorchSharp.Modules.Parameter)>();

    /// <summary>
    /// The settings that decide what the hook does to the trained weights (a sparsity, bits, a teacher's hash), as
    /// key → value; a checkpoint records them with the run's options, and resuming with other settings is refused.
    /// Keys start with the hook's kind (<c>agp.sparsity</c>) so hooks cannot collide.
    /// </summary>
    IEnumerable<KeyValuePair<string, string>> Fingerprint => Array.Empty<KeyValuePair<string, string>>();

    /// <summary>
    /// The state training changes inside the hook (moving activation ranges, AGP masks, QAT master weights,
    /// centroids), as new tensors the caller disposes, by names unique to the hook (<c>agp.mask:W</c>). Every
    /// checkpoint saves it; each name must give a tensor of the same type and shape throughout the run.
    /// </summary>
    IReadOnlyList<(string Name, Tensor Tensor)> SaveState() => Array.Empty<(string, Tensor)>();

    /// <summary>Restores what <see cref="SaveState"/> saved (a resumed run calls it before <see cref="OnTrainStart"/>); the tensors are copied.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state) { }

    /// <summary>Called once before the first step (also after a resume, after <see cref="LoadState"/>).</summary>
    void OnTrainStart(Trainer trainer) { }

    /// <summary>
    /// True when the hook's loss alone teaches the model what to output (distillation from a teacher), so the trainer
    /// can train on data without labels; false for regularisers (an L1 penalty) that need the labels' loss beside them.
    /// </summary>
    bool Supervises => false;

    /// <summary>A term added to the loss of this step, or null.</summary>
    Tensor? ExtraLoss(TrainStep step) => null;

    /// <summary>Called after each optimizer step, under no_grad (masks re-applied here stay exact).</summary>
    void AfterStep(TrainStep step) { }

    /// <summary>Called after each epoch with its metrics.</summary>
    void OnEpochEnd(EpochMetrics metrics) { }
}

/// <summary>What one epoch measured; the accuracies are null on data without labels.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double? TrainAccuracy, double? TestLoss, double? TestAccuracy,
    double LearningRate, double Seconds, double SamplesPerSecond);

/// <summary>Progress within an epoch after an optimizer step, for progress bars: <paramref name="Epoch"/> counts from 0, <paramref name="Batch"/> is the batches done.</summary>
public readonly record struct TrainProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double? Accuracy, double SamplesPerSecond);

/// <summary>Loss and accuracy on a labelled data set.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int Count);
