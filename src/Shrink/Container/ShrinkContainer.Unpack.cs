using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.IO.Hashing;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Sharing;
using Shrink.Text;

namespace Shrink.Container;

/// <summary>
/// Decoding. One pass over the file, each byte read a bounded number of times: the cluster metadata is parsed
/// once, names are looked up in hash sets, every count is checked against the bytes that could hold it before
/// anything is allocated for it. Every refusal is a <see cref="ModelFormatException"/> of one line.
/// </summary>
public static partial class ShrinkContainer
{
    /// <summary>Reads a container back into the clustered model; a damaged container raises <see cref="ModelFormatException"/>.</summary>
    public static Model Unpack(byte[] bytes, string source = "container")
    {
        try
        {
            return UnpackChecked(bytes, source);
        }
        catch (ModelFormatException e)
        {
            // Messages of the ONNX reader quote names from the file as they are: keep what reaches the user one line.
            var line = Message.Name(e.Message, 1000);
            if (line == e.Message) throw;
            throw new ModelFormatException(line, e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The ONNX reader or IR rejected what the sections hold: still a damaged container.
            throw new ModelFormatException($"'{source}' is not a valid .shrink container: {Message.Name(e.Message, 300)}", e);
        }
    }

    private static Model UnpackChecked(byte[] bytes, string source)
    {
        Func<string, string> bad = what => $"'{source}' is not a valid .shrink container: {what}";
        var count = ReadHeader(bytes, bad);
        var pos = 8;
        Model? model = null;
        Dictionary<string, Value>? places = null; // the empty initializer of each clustered weight, by name
        var filled = new HashSet<string>();
        long totalElements = 0;
        string? Vet(string n) => !places!.ContainsKey(n) ? "is not a clustered weight of the model" : filled.Contains(n) ? "appears twice" : null;
        var vet = Vet; // one delegate for all sections
        for (var i = 0; i < count; i++)
        {
            var at = pos;
            var (kind, length) = ReadSection(bytes, ref pos, i, count, bad);
            switch (kind)
            {
                case GraphKind when model is null:
                    model = OnnxReader.Read(Inflate(bytes, at + 5, length, bad), source: source);
                    places = Places(model, count - i - 1, bytes.Length, at, bad);
                    break;
                case TensorKind:
                    if (places is null) throw new ModelFormatException(bad($"a weight section (section {i + 1}, byte {at}) comes before the model section"));
                    var (name, tensor) = ReadTensor(bytes.AsSpan(at + 5, length), at + 5, bad, MaxElements - totalElements, vet);
                    filled.Add(name);
                    places[name].Const = tensor;
                    totalElements += tensor.ElementCount;
                    break;
                default:
                    throw new ModelFormatException(bad($"unexpected section kind {kind} (section {i + 1}, byte {at})"));
            }
        }
        if (pos != bytes.Length) throw new ModelFormatException(bad($"{bytes.Length - pos} bytes after the last section, from byte {pos}"));
        if (model is null || places is null) throw new ModelFormatException(bad("no model section"));
        CheckAllFilled(places, filled, bad);
        return model;
    }

    /// <summary>Each clustered weight the metadata lists is filled, by a section of its own.</summary>
    private static void CheckAllFilled(Dictionary<string, Value> places, HashSet<string> filled, Func<string, string> bad)
    {
        var missing = places.Keys.Where(n => !filled.Contains(n)).ToList();
        if (missing.Count == 0) return;
        var names = Message.List(missing.Select(n => $"'{Message.Name(n)}'"));
        throw new ModelFormatException(bad(missing.Count == 1 ? $"weight {names} is missing" : $"weights {names} are missing"));
    }

    /// <summary>Checks magic and version; returns the section count, refused when the file is too short to hold that many.</summary>
    private static int ReadHeader(byte[] bytes, Func<string, string> bad)
    {
        if (bytes.Length < 8 || !bytes.AsSpan(0, 4).SequenceEqual(Magic)) throw new ModelFormatException(bad("bad magic (expected \"SHRK\"); is it a .shrink file made by shrink pack?"));
        if (bytes[4] == 1)
            throw new ModelFormatException(bad($"version 1 is not supported (this build reads version {Version}): version 1 left the zeros after a weight's last non-zero implicit, so its sizes cannot be checked; pack the clustered model again"));
        if (bytes[4] != Version) throw new ModelFormatException(bad($"version {bytes[4]} is not supported (this build reads version {Version})"));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6));
        var most = (bytes.Length - 8) / SectionOverhead;
        if (count > most)
            throw new ModelFormatException(bad(Invariant($"the header declares {count:N0} sections at byte 6, but the {bytes.Length - 8:N0} bytes after it hold at most {most:N0} ({SectionOverhead} bytes each at least); the container is corrupt or hostile")));
        return count;
    }

    /// <summary>Reads a section's kind and length and checks its CRC in place; moves <paramref name="pos"/> past it.</summary>
    private static (byte Kind, int Length) ReadSection(byte[] bytes, ref int pos, int i, int count, Func<string, string> bad)
    {
        if (bytes.Length - pos < SectionOverhead) throw new ModelFormatException(bad($"truncated in the header of section {i + 1} of {count}, at byte {pos}"));
        var kind = bytes[pos];
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 1));
        var room = bytes.Length - pos - SectionOverhead;
        if (length > room) throw new ModelFormatException(bad($"truncated: section {i + 1} declares {length} bytes at byte {pos + 1}, {room} remain"));
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 5 + (int)length));
        if (Crc32.HashToUInt32(bytes.AsSpan(pos, 5 + (int)length)) != crc) throw new ModelFormatException(bad($"CRC mismatch in section {i + 1} at byte {pos} (the file is damaged)"));
        pos += SectionOverhead + (int)length;
        return (kind, (int)length);
    }

    /// <summary>
    /// The empty place of each weight the model's cluster metadata lists. The list is bounded by the file: each
    /// weight needs a section of its own that repeats its name, so the metadata cannot be longer than the file
    /// nor list more weights than sections follow.
    /// </summary>
    private static Dictionary<string, Value> Places(Model model, int sectionsLeft, int fileBytes, int at, Func<string, string> bad)
    {
        var text = model.Metadata.FirstOrDefault(kv => kv.Key == ClusterPass.BitsKey).Value ?? "";
        if (text.Length > fileBytes)
            throw new ModelFormatException(bad(Invariant($"the model section at byte {at} lists its clustered weights in {ClusterPass.BitsKey} metadata of {text.Length:N0} characters, longer than the whole {fileBytes:N0}-byte container; the container is corrupt or hostile")));
        var listed = ClusterPass.ReadBits(model);
        if (listed.Count > sectionsLeft)
            throw new ModelFormatException(bad(Invariant($"the model section at byte {at} lists {listed.Count:N0} clustered weights in {ClusterPass.BitsKey}, but only {sectionsLeft:N0} sections follow it")));
        var initializers = new Dictionary<string, Value>();
        foreach (var v in model.Graph.Initializers) initializers.TryAdd(v.Name, v);
        var places = new Dictionary<string, Value>(listed.Count);
        foreach (var name in listed.Keys)
        {
            if (!initializers.TryGetValue(name, out var v)) throw new ModelFormatException(bad($"weight '{Message.Name(name)}' has no place in the model"));
            if (v.Const is not { ElementCount: 0, Dims: [0] }) throw new ModelFormatException(bad($"weight '{Message.Name(name)}' has no empty place in the model"));
            places[name] = v;
        }
        return places;
    }

    /// <summary>Inflates the model section, refusing to grow past <see cref="MaxGraphBytes"/> (a corrupt stream cannot exhaust memory).</summary>
    private static byte[] Inflate(byte[] bytes, int start, int length, Func<string, string> bad)
    {
        try
        {
            using var z = new BrotliStream(new MemoryStream(bytes, start, length, writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = z.Read(buffer)) > 0)
            {
                if (output.Length + n > MaxGraphBytes) throw new ModelFormatException(bad($"the model section at byte {start - 5} inflates past {MaxGraphBytes >> 20} MiB"));
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException(bad($"the model section at byte {start - 5} does not inflate ({e.Message})"));
        }
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
