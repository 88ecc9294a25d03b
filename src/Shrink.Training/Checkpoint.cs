using System.Text;
using System.Text.Json;
using Shrink.IO;
using Shrink.Ir;
using Shrink.Training.Execution;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>Where a run stands: the position to continue from and the counters of a partly done epoch.</summary>
public sealed record CheckpointState
{
    public int Epoch { get; init; }
    public int Batch { get; init; }
    public long Steps { get; init; }
    public double LossSum { get; init; }
    public long Correct { get; init; }
    public long Seen { get; init; }
    public double Seconds { get; init; }
    public string ModelHash { get; init; } = "";
    public Dictionary<string, string> Options { get; init; } = new();
    public List<EpochMetrics> History { get; init; } = new();
}

/// <summary>
/// A training checkpoint: a JSON header (position, options, history) and named tensors (weights,
/// buffers, optimizer state, hook parameters, the random generator). Written atomically; a
/// truncated or foreign file gets a clear error.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "SHRINKCK"u8.ToArray();
    private const int Version = 1;

    /// <summary>The checkpoint file of a run directory.</summary>
    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, "checkpoint.bin");

    public static void Save(string path, CheckpointState state, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            var header = JsonSerializer.SerializeToUtf8Bytes(state);
            w.Write(header.Length);
            w.Write(header);
            var list = tensors.ToList();
            w.Write(list.Count);
            foreach (var (name, tensor) in list)
            {
                var ir = TorchTensors.ToIr(name, tensor);
                w.Write(name);
                w.Write((int)ir.DataType);
                w.Write(ir.Dims.Length);
                foreach (var d in ir.Dims) w.Write(d);
                w.Write(ir.RawData.Length);
                w.Write(ir.RawData);
            }
        }
        AtomicFile.WriteAllBytes(path, buffer.ToArray());
    }

    /// <summary>Reads a checkpoint; tensors are new TorchSharp tensors the caller disposes.</summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors) Load(string path)
    {
        if (!File.Exists(path)) throw new OptionsException($"no checkpoint at {path}; start the run without --resume");
        try
        {
            using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (!r.ReadBytes(Magic.Length).SequenceEqual(Magic)) throw new DataException($"{path} is not a Shrink checkpoint");
            var version = r.ReadInt32();
            if (version != Version) throw new DataException($"{path} is a version {version} checkpoint; this Shrink reads version {Version}");
            var header = r.ReadBytes(r.ReadInt32());
            var state = JsonSerializer.Deserialize<CheckpointState>(header) ?? throw new FormatException("empty header");
            var tensors = new Dictionary<string, Tensor>();
            var count = r.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                var name = r.ReadString();
                var type = (Ir.DataType)r.ReadInt32();
                var dims = new long[r.ReadInt32()];
                for (var d = 0; d < dims.Length; d++) dims[d] = r.ReadInt64();
                var bytes = r.ReadBytes(r.ReadInt32());
                var ir = new Ir.Tensor(name, type, dims, bytes);
                if (bytes.Length != type.ByteCount(ir.ElementCount)) throw new FormatException($"tensor '{name}' is truncated");
                tensors[name] = TorchTensors.FromIr(ir).DetachFromDisposeScope();
            }
            return (state, tensors);
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or OverflowException or ArgumentException or FormatException)
        {
            throw new DataException($"{path} is damaged ({e.Message}); delete it to start the run afresh");
        }
    }
}
