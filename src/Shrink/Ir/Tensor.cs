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
/// </summary>
public sealed partial class Tensor
{
    private byte[]? _data;

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

    /// <summary>The raw little-endian bytes (loads an unloaded tensor).</summary>
    public ReadOnlySpan<byte> Bytes => Data;

    /// <summary>The raw bytes as a mutable array (owned by this tensor; loads an unloaded tensor).</summary>
    public byte[] RawData => Data;

    /// <summary>The shape as a <see cref="Ir.Shape"/>.</summary>
    public Shape Shape => Shape.Of(Dims);

    /// <summary>Float32 elements as a span over the data (no copy); float32 tensors only.</summary>
    public Span<float> AsFloats()
    {
        Require(DataType.Float);
        return MemoryMarshal.Cast<byte, float>(Data.AsSpan());
    }

    /// <summary>Int64 elements as a span (no copy); int64 tensors only.</summary>
    public Span<long> AsInt64s()
    {
        Require(DataType.Int64);
        return MemoryMarshal.Cast<byte, long>(Data.AsSpan());
    }

    /// <summary>Elements converted to float64 for numeric types (int4 and uint4 unpacked).</summary>
    public double[] ToDoubles() => ToDoubles(Data);

    private double[] ToDoubles(byte[] data) => DataType switch
    {
        DataType.Float => Array.ConvertAll(AsFloats().ToArray(), f => (double)f),
        DataType.Double => MemoryMarshal.Cast<byte, double>(data).ToArray(),
        DataType.Float16 => MemoryMarshal.Cast<byte, Half>(data).ToArray().Select(h => (double)h).ToArray(),
        DataType.Int64 => Array.ConvertAll(AsInt64s().ToArray(), v => (double)v),
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
        DataType.Int64 => AsInt64s().ToArray(),
        DataType.Int32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(Data).ToArray(), v => (long)v),
        _ => ToDoubles().Select(d => (long)d).ToArray(),
    };

    /// <summary>Replaces the data with new bytes of the same length (keeps dtype and shape).</summary>
    public void SetData(byte[] data)
    {
        if (data.LongLength != ByteLength)
            throw new ArgumentException($"tensor '{Name}': new data has {data.Length} bytes, expected {ByteLength}");
        if (_gate is null) _data = data;
        else lock (_gate) (_data, _source) = (data, null);
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
    /// A deep copy (data, strings, external-data record and residue), under another name when one is given.
    /// An unloaded tensor's clone shares its (immutable) source range and stays unloaded.
    /// </summary>
    public Tensor Clone(string? name = null) => new(name ?? Name, DataType, (long[])Dims.Clone(), Storage, CloneData())
    {
        DocString = DocString,
        Strings = Strings?.Select(s => (byte[])s.Clone()).ToArray(),
        ExternalInfo = ExternalInfo?.ToArray(),
        Residue = Onnx.Residues.Clone(Residue),
    };

    public override string ToString() => $"{Name}: {DataType.ShortName()}{Shape}";

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
