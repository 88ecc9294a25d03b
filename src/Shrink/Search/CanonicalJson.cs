using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// The canonical JSON form of a value, the same bytes on every run and machine: object keys sorted by ordinal
/// (UTF-16) order, no whitespace, strings escaped as <see cref="JavaScriptEncoder.Default"/> escapes them, integers
/// (any number that is an exact 64-bit integer) in plain decimal, other numbers in their shortest round-trip form
/// in the invariant culture with a lower-case exponent ("0.1", "1e-05", "1.5e+20"). NaN and infinities have no JSON
/// form and are refused. In the spirit of RFC 8785 (JCS), which differs only in how it spells exponents.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.Default, Indented = false };

    /// <summary>The canonical form of <paramref name="value"/> (any value System.Text.Json serializes).</summary>
    public static string Of(object? value) => Of(value is JsonElement e ? e : JsonSerializer.SerializeToElement(value));

    /// <summary>The canonical form of a parsed JSON value.</summary>
    public static string Of(JsonElement element)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Options)) Write(writer, element);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>A value as read back from its canonical form: equal values give equal elements, whatever their CLR type was.</summary>
    public static JsonElement Normalize(object? value)
    {
        using var document = JsonDocument.Parse(Of(value));
        return document.RootElement.Clone();
    }

    /// <summary>JSON text parsed into its canonical value (a detached element).</summary>
    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return Normalize(document.RootElement);
    }

    /// <summary>Lower-case hexadecimal SHA-256 of the UTF-8 bytes of <paramref name="canonical"/>.</summary>
    public static string Sha256(string canonical) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    /// <summary>A double in the canonical number form (see the type's summary).</summary>
    public static string Number(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{value} has no JSON form", nameof(value));
        if (value == 0) return "0";  // -0 too
        if (Math.Abs(value) < 9.2e18 && value == Math.Floor(value)) return ((long)value).ToString(CultureInfo.InvariantCulture);
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E');
        return e < 0 ? text : text[..e] + "e" + text[(e + 1)..];
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var p in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(p.Name);
                    Write(writer, p.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(element.TryGetInt64(out var l) ? l.ToString(CultureInfo.InvariantCulture) : Number(element.GetDouble()), skipInputValidation: true);
                break;
            default:
                element.WriteTo(writer);  // strings, true, false, null
                break;
        }
    }
}
