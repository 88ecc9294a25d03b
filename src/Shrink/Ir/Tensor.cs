using System.Runtime.InteropServices;

namespace Shrink.Ir;

/// <summary>How a tensor's data was stored in the ONNX file; kept so a round trip writes it the same way.</summary>
public enum TensorStorage
{
    /// <summary>Little-endian bytes in <c>raw_data</c>.</summary>
    Raw,
    /// <summary>The typed repeated fields (<c>float_data</c>, <c>int32_data</c>, ...).</summary>
    Typed,
    /// <summary>A separate data file (ONNX external data).</summary>
    External,
}

/// <summary>
/// A constant tensor: an initializer, or the value of a tensor attribute. Data is held as
/// little-endian bytes in C order (sub-byte types two per byte, low nibble first), whatever the
/// file used; <see cref="Storage"/> remembers the file's form. A tensor read from external data is
/// not loaded: it keeps its <see cref="DataRange"/> and reads its bytes on the first call that asks
/// for them (<see cref="Bytes"/>, <see cref="RawData"/>, <see cref="AsFloats"/>, …), owning them from
/// then on; <see cref="Read"/> and <see cref="CopyTo"/> read without loading.
/// A <see cref="Clone"/> shares the bytes with its original until either is written to: the writable views
/// (<see cref="RawData"/>, <see cref="AsFloats"/>, <see cref="AsInt64s"/>) copy them first (copy on write), the
/// read-only ones (<see cref="Bytes"/>, <see cref="Floats"/>) never do. So a pass pipeline's private copy of a model
/// costs memory only for the tensors a pass rewrites in place.
/// </summary>
public sealed partial class Tensor
{
    private byte[]? _data;

    /// <summary>Whether <see cref="_data"/> is held by another tensor too (a clone, or the tensor this one was cloned from).</summary>
    private bool _shared;

    public Tensor(string name, DataType dataType, long[] dims, byte[] data, TensorStorage storage = TensorStorage.Raw)
    {
        Name = name;
        DataType = dataType;
        Dims = dims;
        _data = data;
        Storage = storage;
    }

    public string Name { get; set; }
    public DataType DataType { get; }
    public long[] Dims { get; }
    public TensorStorage Storage { get; set; }
    public string? DocString { get; set; }

    /// <summary>Elements of a string tensor (null for other types).</summary>
    public byte[][]? Strings { get; init; }

    /// <summary>Where an external tensor came from; kept for reference, rewritten on write.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? ExternalInfo { get; set; }

    /// <summary>Fields of the ONNX message that the IR does not model, written back unchanged.</summary>
    internal Google.Protobuf.IMessage? Residue { get; set; }

    /// <summary>Number of elements (product of <see cref="Dims"/>).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>The raw little-endian bytes (loads an unloaded tensor; never copies).</summary>
    public ReadOnlySpan<byte> Bytes => Data;

    /// <summary>The raw bytes as a mutable array, owned by this tensor (loads an unloaded tensor; copies the bytes first when shared with a clone).</summary>
    public byte[] RawData => Own();

    /// <summary>The raw bytes as an array for reading only (loads an unloaded tensor): shared with clones, never copied. Writing to it would change them too.</summary>
    internal byte[] SharedBytes => Data;

    /// <summary>The shape as a <see cref="Ir.Shape"/>.</summary>
    public Shape Shape => Shape.Of(Dims);

    /// <summary>Float32 elements as a span over the data (no copy); float32 tensors only.</summary>
    public Span<float> AsFloats()
    {
        Require(DataType.Float);
        return MemoryMarshal.Cast<byte, float>(Own().AsSpan());
    }

    /// <summary>Float32 elements for reading (loads an unloaded tensor; no copy, even when shared with a clone); float32 tensors only.</summary>
    public ReadOnlySpan<float> Floats
    {
        get
        {
            Require(DataType.Float);
            return MemoryMarshal.Cast<byte, float>(Data.AsSpan());
        }
    }

    /// <summary>
    /// Whether every element of a float32 tensor is finite (no NaN, no ±∞); nothing copied: a loaded tensor is read in
    /// place, an unloaded one in chunks of <see cref="ChunkBytes"/> and stays unloaded.
    /// </summary>
    public bool AllFinite()
    {
        Require(DataType.Float);
        if (IsLoaded) return AllFinite(Floats);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkBytes, ByteLength));
        try
        {
            for (long at = 0; at < ByteLength; at += ChunkBytes)
            {
                var part = buffer.AsSpan(0, (int)Math.Min(ChunkBytes, ByteLength - at));
                Read(at, part);
                if (!AllFinite(MemoryMarshal.Cast<byte, float>(part))) return false;
            }
            return true;
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>Int64 elements as a span (no copy); int64 tensors only.</summary>
    public Span<long> AsInt64s()
    {
        Require(DataType.Int64);
        return MemoryMarshal.Cast<byte, long>(Own().AsSpan());
    }

    /// <summary>Elements converted to float64 for numeric types (int4 and uint4 unpacked).</summary>
    public double[] ToDoubles() => ToDoubles(Data);

    private double[] ToDoubles(byte[] data) => DataType switch
    {
        DataType.Float => ToDoubles(MemoryMarshal.Cast<byte, float>(data)),
        DataType.Double => MemoryMarshal.Cast<byte, double>(data).ToArray(),
        DataType.Float16 => MemoryMarshal.Cast<byte, Half>(data).ToArray().Select(h => (double)h).ToArray(),
        DataType.Int64 => Array.ConvertAll(MemoryMarshal.Cast<byte, long>(data).ToArray(), v => (double)v),
        DataType.Int32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(data).ToArray(), v => (double)v),
        DataType.Int8 => Array.ConvertAll((sbyte[])(Array)data.ToArray(), v => (double)v),
        DataType.UInt8 or DataType.Bool => Array.ConvertAll(data, v => (double)v),
        DataType.Int4 or DataType.UInt4 => Enumerable.Range(0, (int)ElementCount).Select(i =>
        {
            var nibble = (data[i / 2] >> (4 * (i % 2))) & 0xF;
            return (double)(DataType == DataType.Int4 && nibble >= 8 ? nibble - 16 : nibble);
        }).ToArray(),
        _ => throw new NotSupportedException($"tensor '{Name}': conversion of {DataType.ShortName()} to numbers is not supported"),
    };

    /// <summary>Elements as int64 for integer types (used for shape-like constants).</summary>
    public long[] ToInt64s() => DataType switch
    {
        DataType.Int64 => MemoryMarshal.Cast<byte, long>(Data).ToArray(),
        DataType.Int32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(Data).ToArray(), v => (long)v),
        _ => ToDoubles().Select(d => (long)d).ToArray(),
    };

    /// <summary>Replaces the data with new bytes of the same length (keeps dtype and shape).</summary>
    public void SetData(byte[] data)
    {
        if (data.LongLength != ByteLength)
            throw new ArgumentException($"tensor '{Name}': new data has {data.Length} bytes, expected {ByteLength}");
        if (_gate is null) _data = data;
        else lock (_gate) Loaded(data);
        _shared = false;
    }

    /// <summary>A float32 tensor that takes ownership of a copy of <paramref name="values"/>.</summary>
    public static Tensor FromFloats(string name, long[] dims, ReadOnlySpan<float> values)
    {
        CheckCount(name, dims, values.Length);
        return new Tensor(name, DataType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());
    }

    /// <summary>An int64 tensor.</summary>
    public static Tensor FromInt64s(string name, long[] dims, ReadOnlySpan<long> values)
    {
        CheckCount(name, dims, values.Length);
        return new Tensor(name, DataType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());
    }

    /// <summary>
    /// A copy (strings, external-data record and residue copied), under another name when one is given. The data is
    /// shared until either tensor is written to (copy on write; the two never see each other's writes); an unloaded
    /// tensor's clone shares its (immutable) source range and stays unloaded.
    /// </summary>
    public Tensor Clone(string? name = null)
    {
        var data = CloneData();
        return new(name ?? Name, DataType, (long[])Dims.Clone(), Storage, data)
        {
            _shared = data.Item1 is not null,
            DocString = DocString,
            Strings = Strings?.Select(s => (byte[])s.Clone()).ToArray(),
            ExternalInfo = ExternalInfo?.ToArray(),
            Residue = Onnx.Residues.Clone(Residue),
        };
    }

    public override string ToString() => $"{Name}: {DataType.ShortName()}{Shape}";

    /// <summary>The data (loaded if need be), copied first when another tensor shares it, so that writes stay this tensor's.</summary>
    private byte[] Own()
    {
        var data = Data;
        if (!_shared) return data;
        _data = (byte[])data.Clone();
        _shared = false;
        return _data;
    }

    private static double[] ToDoubles(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (var i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }

    private void Require(DataType t)
    {
        if (DataType != t)
            throw new InvalidOperationException($"tensor '{Name}' is {DataType.ShortName()}, not {t.ShortName()}");
    }

    private static void CheckCount(string name, long[] dims, int count)
    {
        var expected = dims.Aggregate(1L, (a, d) => a * d);
        if (expected != count)
            throw new ArgumentException($"tensor '{name}': {count} values given for shape [{string.Join(",", dims)}] ({expected} elements)");
    }
}
