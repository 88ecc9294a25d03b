using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shrink.Techniques;

/// <summary>
/// Masks by tensor name as JSON: <c>{"name": {"length": n, "bits": "base64"}}</c>, eight entries a byte,
/// the first in the lowest bit — a mask of a million weights takes 170 kB, not the 6 MB of a list of booleans.
/// </summary>
public sealed class PackedMasksConverter : JsonConverter<IReadOnlyDictionary<string, bool[]>>
{
    public override IReadOnlyDictionary<string, bool[]> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var entries = JsonSerializer.Deserialize<Dictionary<string, PackedMask>>(ref reader, options)
            ?? throw new JsonException("masks: null");
        return entries.ToDictionary(kv => kv.Key, kv => Unpack(kv.Key, kv.Value));
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, bool[]> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.ToDictionary(kv => kv.Key, kv => Pack(kv.Value)), options);

    private sealed record PackedMask(long Length, string Bits);

    private static PackedMask Pack(bool[] mask)
    {
        var bytes = new byte[(mask.Length + 7) / 8];
        for (var i = 0; i < mask.Length; i++)
            if (mask[i]) bytes[i / 8] |= (byte)(1 << (i % 8));
        return new PackedMask(mask.Length, Convert.ToBase64String(bytes));
    }

    private static bool[] Unpack(string name, PackedMask packed)
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String(packed.Bits ?? ""); }
        catch (FormatException) { throw new JsonException($"mask '{name}': the bits are not base64"); }
        if (packed.Length < 0 || (packed.Length + 7) / 8 != bytes.Length)
            throw new JsonException($"mask '{name}': {bytes.Length} bytes of bits for a length of {packed.Length}");
        var mask = new bool[packed.Length];
        for (var i = 0; i < mask.Length; i++) mask[i] = (bytes[i / 8] >> (i % 8) & 1) != 0;
        return mask;
    }
}
