using System.Security.Cryptography;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// Collects tensors bound for the external data file while a model is written; the file's name is
/// derived from its content (<see cref="Finish"/>), and every tensor is pointed at it then. Tensors are
/// kept, not their bytes: an unloaded one is copied from its own data file in chunks
/// (<see cref="Tensor.CopyTo"/>) when the file is hashed and written, and is never loaded.
/// </summary>
internal sealed class ExternalSink
{
    private static readonly byte[] Zeros = new byte[64];

    private readonly List<(int Pad, Tensor Tensor)> _parts = new();
    private readonly List<TensorProto> _stored = new();
    private long _offset;

    public ExternalSink(long threshold) => Threshold = threshold;

    public long Threshold { get; }

    /// <summary>The data file's name, once <see cref="Finish"/> has run.</summary>
    public string? FileName { get; private set; }

    /// <summary>Bytes of the data file.</summary>
    public long Length => _offset;

    /// <summary>Records the tensor (its bytes aligned to 64) and points <paramref name="p"/> at them.</summary>
    public void Store(Tensor t, TensorProto p)
    {
        var pad = (int)((64 - _offset % 64) % 64);
        _offset += pad;
        p.Name = t.Name;
        p.DataType = (int)t.DataType;
        p.Dims.AddRange(t.Dims);
        if (t.DocString is not null) p.DocString = t.DocString;
        p.DataLocation = TensorProto.Types.DataLocation.External;
        p.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "" });
        p.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = _offset.ToString() });
        p.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.ByteLength.ToString() });
        _parts.Add((pad, t));
        _stored.Add(p);
        _offset += t.ByteLength;
    }

    /// <summary>Names the data file after its content (SHA-256) and points every stored tensor at it.</summary>
    public string Finish(string modelFileName) => FinishAs(ExternalDataFiles.DataName(modelFileName, Hash()));

    /// <summary>Names the data file <paramref name="fileName"/> and points every stored tensor at it.</summary>
    public string FinishAs(string fileName)
    {
        FileName = fileName;
        foreach (var p in _stored) p.ExternalData[0].Value = FileName;
        return FileName;
    }

    /// <summary>The first 16 hex digits of the SHA-256 of the data file's bytes.</summary>
    public string Hash()
    {
        using var sha = SHA256.Create();
        using (var hashing = new CryptoStream(Stream.Null, sha, CryptoStreamMode.Write, leaveOpen: true))
            CopyTo(hashing);
        return Convert.ToHexStringLower(sha.Hash!)[..16];
    }

    /// <summary>
    /// Points every loaded tensor stored here at its bytes in the data file just written at <paramref name="path"/>
    /// (<see cref="Tensor.MoveTo"/>), so that the model's weights are no longer held in memory beside the file.
    /// </summary>
    public void MoveLoadedTo(string path)
    {
        DataFile? file = null;
        long offset = 0;
        foreach (var ((pad, t), p) in _parts.Zip(_stored))
        {
            offset += pad;
            var length = t.ByteLength;
            if (t.IsLoaded)
                t.MoveTo(new DataRange(file ??= DataFile.Open(path), offset, length), p.ExternalData.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)).ToArray());
            offset += length;
        }
    }

    public void CopyTo(Stream s)
    {
        foreach (var (pad, t) in _parts)
        {
            s.Write(Zeros, 0, pad);
            t.CopyTo(s);
        }
    }
}
