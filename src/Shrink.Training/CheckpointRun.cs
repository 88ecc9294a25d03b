using System.Text;
using Shrink.Ir;
using Shrink.Training.Execution;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>The element type and shape a checkpoint tensor must have.</summary>
public sealed record CheckpointTensorSpec(DataType Type, long[] Shape)
{
    /// <summary>The spec of a TorchSharp tensor.</summary>
    public static CheckpointTensorSpec Of(Tensor t) => new(TorchTensors.DataTypeOf(t.dtype), t.shape.ToArray());

    /// <summary>Bytes of the tensor's data.</summary>
    public long Bytes => Type.ByteCount(Shape.Aggregate(1L, (a, d) => checked(a * d)));

    public override string ToString() => $"{Type.ShortName()}[{string.Join(",", Shape)}]";
}

/// <summary>
/// What a checkpoint of one run must hold: the model and options it was made with, a position within
/// the run's epochs and batches, and exactly the run's tensors (weights, buffers, hook parameters,
/// the generator; optimizer state for any subset of the parameters). <see cref="Checkpoint.Load"/>
/// checks every header field and tensor against it before a tensor is made.
/// </summary>
public sealed record CheckpointRun
{
    /// <summary>Longest tensor name a checkpoint may hold, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 4096;

    public required string ModelHash { get; init; }
    public required IReadOnlyDictionary<string, string> Options { get; init; }
    public required int Epochs { get; init; }

    /// <summary>Batches per epoch.</summary>
    public required int Batches { get; init; }
    public required int BatchSize { get; init; }

    /// <summary>Tensors every checkpoint of the run holds, by name.</summary>
    public required IReadOnlyDictionary<string, CheckpointTensorSpec> Required { get; init; }

    /// <summary>Tensors a checkpoint may hold (optimizer state, created at a parameter's first update).</summary>
    public IReadOnlyDictionary<string, CheckpointTensorSpec> Optional { get; init; } = new Dictionary<string, CheckpointTensorSpec>();

    /// <summary>Largest header (JSON) a checkpoint of the run can have: the options and one history entry per epoch, with room to spare.</summary>
    public int MaxHeaderBytes => 64 * 1024 + 1024 * Epochs;

    /// <summary>Largest file a checkpoint of the run can be: every bound of the format at its maximum.</summary>
    public long MaxFileBytes => CheckpointFormat.FixedBytes + MaxHeaderBytes
        + Required.Concat(Optional).Sum(kv => 24L + Encoding.UTF8.GetByteCount(kv.Key) + 8L * kv.Value.Shape.Length + kv.Value.Bytes);

    /// <summary>The spec of a tensor name, or null when the run has no such tensor.</summary>
    public CheckpointTensorSpec? SpecOf(string name) =>
        Required.TryGetValue(name, out var s) || Optional.TryGetValue(name, out s) ? s : null;

    /// <summary>
    /// Refuses a header made for another model or other options (<see cref="OptionsException"/>, the
    /// differences named), and returns what is wrong with any other field, or null when all fit.
    /// </summary>
    internal string? Check(string path, CheckpointState state)
    {
        if (state.ModelHash != ModelHash)
            throw new OptionsException($"the checkpoint '{path}' was made for a different model (another model, or other settings before training); resume with the same model and options or use a new run directory");
        var saved = state.Options ?? new Dictionary<string, string>();
        var differences = Options.Where(kv => !saved.TryGetValue(kv.Key, out var v) || v != kv.Value)
            .Select(kv => $"{kv.Key} {(saved.TryGetValue(kv.Key, out var v) ? v : "?")} (now {kv.Value})").ToList();
        if (differences.Count > 0)
            throw new OptionsException($"the checkpoint '{path}' was made with {string.Join(", ", differences)}; resume with the same options or use a new run directory");
        if (saved.Keys.FirstOrDefault(k => !Options.ContainsKey(k)) is { } extra) return $"header field 'Options' has an unknown key '{extra}'";
        return Position(state) ?? Counters(state) ?? CheckpointHistory.Problem(state, Epochs);
    }

    private string? Position(CheckpointState s)
    {
        if (s.Epoch < 0 || s.Epoch > Epochs) return $"header field 'Epoch' is {s.Epoch}; the run has {Epochs} epoch(s)";
        if (s.Batch < 0 || s.Batch >= Batches || (s.Epoch == Epochs && s.Batch != 0))
            return $"header field 'Batch' is {s.Batch}; {(s.Epoch == Epochs ? "a finished run is at batch 0" : $"an epoch of the run has {Batches} batch(es)")}";
        var steps = (long)s.Epoch * Batches + s.Batch;
        return s.Steps == steps ? null : $"header field 'Steps' is {s.Steps}; epoch {s.Epoch}, batch {s.Batch} of {Batches} per epoch means {steps}";
    }

    private string? Counters(CheckpointState s)
    {
        var seen = (long)s.Batch * BatchSize;
        if (s.Seen != seen) return $"header field 'Seen' is {s.Seen}; {s.Batch} batch(es) of {BatchSize} mean {seen}";
        if (s.Correct < 0 || s.Correct > s.Seen) return $"header field 'Correct' is {s.Correct}; it must be in [0, {s.Seen}]";
        if (!double.IsFinite(s.LossSum) || (s.Seen == 0 && s.LossSum != 0)) return $"header field 'LossSum' is {s.LossSum}";
        if (!double.IsFinite(s.Seconds) || s.Seconds < 0) return $"header field 'Seconds' is {s.Seconds}";
        return null;
    }
}
