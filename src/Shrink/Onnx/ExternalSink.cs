using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>Collects tensors bound for the external data file while a model is written.</summary>
internal sealed class ExternalSink
{
    private readonly List<byte[]> _chunks = new();
    private long _offset;

    public ExternalSink(long threshold, string fileName)
    {
        Threshold = threshold;
        FileName = fileName;
    }

    public long Threshold { get; }
    public string FileName { get; }

    /// <summary>Records the tensor's bytes (aligned to 64 bytes) and points <paramref name="p"/> at them.</summary>
    public void Store(Tensor t, TensorProto p)
    {
        var pad = (int)((64 - _offset % 64) % 64);
        if (pad > 0) { _chunks.Add(new byte[pad]); _offset += pad; }
        p.Name = t.Name;
        p.DataType = (int)t.DataType;
        p.Dims.AddRange(t.Dims);
        if (t.DocString is not null) p.DocString = t.DocString;
        p.DataLocation = TensorProto.Types.DataLocation.External;
        p.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = FileName });
        p.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = _offset.ToString() });
        p.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.Bytes.Length.ToString() });
        _chunks.Add(t.RawData);
        _offset += t.Bytes.Length;
    }

    public void CopyTo(Stream s)
    {
        foreach (var c in _chunks) s.Write(c);
    }
}
