using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Shrink.Ir;
using Shrink.Training.Execution;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// The bytes of a checkpoint (version 2), all integers little-endian:
/// <code>
///   "SHRINKCK"                      8-byte magic
///   int32 version                   2
///   int32 H, H bytes                header: UTF-8 JSON of CheckpointState (H bounded by the run)
///   int32 N                         tensor count
///   N × { int32 L, L bytes name     UTF-8, at most 4096 bytes
///         int32 element type        ONNX DataType
///         int32 rank, rank × int64  dimensions
///         int64 D, D bytes data }   D = the bytes the type and dimensions take
///   32 bytes                        SHA-256 of every byte before it
/// </code>
/// Reading checks the magic and the checksum before parsing anything, then every length against the
/// run (<see cref="CheckpointRun"/>) before it is used, so a damaged or lying file is refused without
/// allocating more than the run's checkpoint can take.
/// </summary>
internal static class CheckpointFormat
{
    public const int Version = 2;
    public const int HashBytes = 32;
    private static readonly byte[] Magic = "SHRINKCK"u8.ToArray();

    /// <summary>Bytes of a checkpoint outside its header and tensors: magic, version, two counts, the checksum.</summary>
    public const int FixedBytes = 8 + 4 + 4 + 4 + HashBytes;

    /// <summary>Strict header JSON: every field present, none unknown or repeated.</summary>
    internal static readonly JsonSerializerOptions Json = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        AllowDuplicateProperties = false,
        MaxDepth = 8,
    };

    public static byte[] Encode(CheckpointState state, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            var header = JsonSerializer.SerializeToUtf8Bytes(state, Json);
            w.Write(header.Length);
            w.Write(header);
            var list = tensors.ToList();
            w.Write(list.Count);
            foreach (var (name, tensor) in list) Write(w, TorchTensors.ToIr(name, tensor));
        }
        buffer.Write(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        return buffer.ToArray();
    }

    private static void Write(BinaryWriter w, Ir.Tensor t)
    {
        var name = Encoding.UTF8.GetBytes(t.Name);
        w.Write(name.Length);
        w.Write(name);
        w.Write((int)t.DataType);
        w.Write(t.Dims.Length);
        foreach (var d in t.Dims) w.Write(d);
        w.Write((long)t.RawData.Length);
        w.Write(t.RawData);
    }

    /// <summary>Whether the bytes have the magic, this version and a checksum that holds (nothing else is read).</summary>
    public static bool IsIntact(ReadOnlySpan<byte> bytes) => Integrity(bytes) is null;

    /// <summary>Why the bytes are not an intact checkpoint of this version, or null.</summary>
    private static string? Integrity(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Magic.Length && Magic.AsSpan().StartsWith(bytes)) return $"is corrupt (truncated to {bytes.Length} bytes)";
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic)) return "is not a Shrink checkpoint";
        if (bytes.Length < FixedBytes) return $"is corrupt (truncated to {bytes.Length} bytes)";
        var body = bytes[..^HashBytes];
        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes[^HashBytes..]))
            return version == 1 ? "is a version 1 checkpoint (written before checkpoints had a checksum); this Shrink reads version 2"
                : "is corrupt (checksum mismatch: the file is damaged or truncated)";
        return version == Version ? null : $"is a version {version} checkpoint; this Shrink reads version {Version}";
    }

    /// <summary>Decodes and checks a checkpoint; the tensors are new TorchSharp tensors the caller disposes.</summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors) Decode(string path, byte[] bytes, CheckpointRun run)
    {
        if (Integrity(bytes) is { } problem) throw new CheckpointException(path, problem, RunAdvice.Afresh);
        var r = new FieldReader(path, bytes, bytes.Length - HashBytes) { Position = 12 };
        var header = r.Bytes(r.Int32("header length", 2, run.MaxHeaderBytes), "header");
        var state = ParseHeader(path, header);
        if (run.Check(path, state) is { } wrong) throw r.Corrupt(wrong);
        var count = r.Int32("tensor count", run.Required.Count, run.Required.Count + run.Optional.Count);
        var raw = new List<Ir.Tensor>(count);
        for (var i = 0; i < count; i++) raw.Add(ReadTensor(r, run, raw, i));
        if (r.Remaining != 0) throw r.Corrupt($"{r.Remaining} byte(s) after the last tensor");
        if (run.Required.Keys.FirstOrDefault(k => raw.All(t => t.Name != k)) is { } missing) throw r.Corrupt($"tensor '{missing}' is missing");
        var tensors = new Dictionary<string, Tensor>();
        foreach (var t in raw) tensors[t.Name] = TorchTensors.FromIr(t).DetachFromDisposeScope();
        return (state, tensors);
    }

    private static CheckpointState ParseHeader(string path, byte[] header)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointState>(header, Json) ?? throw new JsonException("the header is null");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"is corrupt (header: {RunOutput.Cause(e)})", RunAdvice.Afresh, e);
        }
    }

    private static Ir.Tensor ReadTensor(FieldReader r, CheckpointRun run, List<Ir.Tensor> read, int index)
    {
        var name = r.Utf8(r.Int32($"name length of tensor {index}", 1, CheckpointRun.MaxNameBytes), $"name of tensor {index}");
        var spec = run.SpecOf(name) ?? throw r.Corrupt($"tensor {index} is '{name}', which this run does not have");
        if (read.Any(t => t.Name == name)) throw r.Corrupt($"tensor '{name}' appears twice");
        var type = (DataType)r.Int32($"element type of tensor '{name}'", (int)spec.Type, (int)spec.Type);
        var dims = new long[r.Int32($"rank of tensor '{name}'", spec.Shape.Length, spec.Shape.Length)];
        for (var d = 0; d < dims.Length; d++) dims[d] = r.Int64($"dimension {d} of tensor '{name}'", spec.Shape[d], spec.Shape[d]);
        var data = r.Bytes(r.Int64($"data length of tensor '{name}' ({spec})", spec.Bytes, spec.Bytes), $"data of tensor '{name}'");
        return new Ir.Tensor(name, type, dims, data);
    }
}
