namespace Shrink.Ir;

/// <summary>A tensor's data kept in its file until asked for: loading, reading without loading, and cloning unloaded.</summary>
public sealed partial class Tensor
{
    /// <summary>Bytes a streaming read (<see cref="CopyTo"/>, a consumer's chunked <see cref="Read"/>) holds at a time.</summary>
    public const int ChunkBytes = 1 << 20;

    private DataRange? _source;
    private Lock? _gate;

    /// <summary>An unloaded tensor whose bytes are <paramref name="source"/> (external data).</summary>
    public Tensor(string name, DataType dataType, long[] dims, DataRange source)
        : this(name, dataType, dims, TensorStorage.External, (null, source))
    {
    }

    private Tensor(string name, DataType dataType, long[] dims, TensorStorage storage, (byte[]? Data, DataRange? Source) data)
    {
        Name = name;
        DataType = dataType;
        Dims = dims;
        Storage = storage;
        (_data, _source) = data;
        if (_source is not null) _gate = new Lock();
    }

    /// <summary>False while the tensor's bytes are still only in its external data file.</summary>
    public bool IsLoaded => Volatile.Read(ref _data) is not null;

    /// <summary>Bytes of the data, known without loading it.</summary>
    public long ByteLength
    {
        get
        {
            // The source first: it is cleared only after the data is set (Load, SetData), so when the data is still null
            // after it, the source read before was not yet cleared; the other order can find both null.
            var source = Volatile.Read(ref _source);
            return Volatile.Read(ref _data)?.LongLength ?? source!.Length;
        }
    }

    /// <summary>Where the bytes of an unloaded tensor are (null once loaded: the loaded bytes may have changed).</summary>
    public DataRange? Source
    {
        get
        {
            var source = Volatile.Read(ref _source);  // before the data, as in ByteLength
            return IsLoaded ? null : source;
        }
    }

    /// <summary>Fills <paramref name="into"/> with the data's bytes from <paramref name="offset"/>, without loading an unloaded tensor.</summary>
    public void Read(long offset, Span<byte> into)
    {
        if (Volatile.Read(ref _data) is { } data) data.AsSpan(checked((int)offset), into.Length).CopyTo(into);
        else if (SourceOrNull() is { } source) source.Read(offset, into);
        else _data!.AsSpan(checked((int)offset), into.Length).CopyTo(into);  // loaded by another thread meanwhile
    }

    /// <summary>A copy of the data's bytes, read without loading an unloaded tensor (which stays unloaded).</summary>
    public byte[] CopyBytes()
    {
        var bytes = new byte[ByteLength];
        Read(0, bytes);
        return bytes;
    }

    /// <summary>Writes the data's bytes to <paramref name="destination"/> in chunks of <see cref="ChunkBytes"/>, without loading an unloaded tensor.</summary>
    public void CopyTo(Stream destination)
    {
        if (Volatile.Read(ref _data) is { } data)
        {
            destination.Write(data);
            return;
        }
        var buffer = new byte[(int)Math.Min(ChunkBytes, ByteLength)];
        for (long at = 0, length = ByteLength; at < length; at += buffer.Length)
        {
            var part = buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - at));
            Read(at, part);
            destination.Write(part);
        }
    }

    /// <summary>
    /// Drops the loaded bytes of a tensor just written to a data file and reads them from <paramref name="written"/> from then
    /// on, as a tensor read from that file would (<see cref="Storage"/> becomes <see cref="TensorStorage.External"/>): once a
    /// model is written with external data, its weights are in the file, not in memory as well. <paramref name="written"/>
    /// must hold exactly these bytes; the writer calls this when nothing else uses the model.
    /// </summary>
    internal void MoveTo(DataRange written, IReadOnlyList<KeyValuePair<string, string>> info)
    {
        System.Diagnostics.Debug.Assert(written.Length == ByteLength, "the range holds the tensor's bytes");
        _gate ??= new Lock();
        lock (_gate)
        {
            _source = written;
            Volatile.Write(ref _data, null);
            _shared = false;
        }
        Storage = TensorStorage.External;
        ExternalInfo = info;
    }

    private DataRange? SourceOrNull()
    {
        lock (_gate!) return _data is null ? _source : null;
    }

    private byte[] Data => Volatile.Read(ref _data) ?? Load();

    private byte[] Load()
    {
        lock (_gate!)
        {
            if (_data is not null) return _data;
            var source = _source!;
            if (source.Length > Array.MaxLength)
                throw new InvalidOperationException($"tensor '{Name}' holds {source.Length} bytes, more than one array can; read it in parts with {nameof(Read)}");
            var bytes = new byte[source.Length];
            source.Read(0, bytes);
            Loaded(bytes);
            return bytes;
        }
    }

    /// <summary>Sets the loaded data, then clears the source (in that order: see <see cref="ByteLength"/>); under the gate.</summary>
    private void Loaded(byte[] data)
    {
        Volatile.Write(ref _data, data);
        Volatile.Write(ref _source, null);
    }

    /// <summary>The data a clone starts with: the source of an unloaded tensor, else the bytes themselves, shared (both marked, so either copies before writing).</summary>
    private (byte[]?, DataRange?) CloneData()
    {
        if (_gate is null) return Share();
        lock (_gate) return _data is null ? (null, _source) : Share();
    }

    private (byte[]?, DataRange?) Share()
    {
        _shared = true;
        return (_data, null);
    }
}
