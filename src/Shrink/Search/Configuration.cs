using System.Text.Json;

namespace Shrink.Search;

/// <summary>
/// The values of a search space's active parameters: an ordered map name → JSON value, in the space's order.
/// <see cref="Json"/> keeps that order; <see cref="Canonical"/> sorts the keys (<see cref="CanonicalJson"/>) and
/// <see cref="Hash"/> is its SHA-256, the same on every run and machine, which is how a trial store knows a
/// configuration it has seen. Two configurations are equal when their canonical forms are.
/// </summary>
public sealed class Configuration : IEquatable<Configuration>
{
    private readonly KeyValuePair<string, JsonElement>[] _values;
    private readonly Dictionary<string, JsonElement> _byName;

    private Configuration(IEnumerable<KeyValuePair<string, JsonElement>> values)
    {
        _values = values.Select(v => KeyValuePair.Create(v.Key, CanonicalJson.Normalize(v.Value))).ToArray();
        _byName = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, value) in _values)
            if (!_byName.TryAdd(name, value)) throw new ArgumentException($"parameter '{name}' is given twice", nameof(values));
        Canonical = CanonicalJson.Of(ToObject());
        Hash = CanonicalJson.Sha256(Canonical);
        Json = OrderedJson();
    }

    /// <summary>A configuration of the given values in the given order (any JSON-able values; not checked against a space).</summary>
    public static Configuration Of(IEnumerable<KeyValuePair<string, object?>> values) =>
        new(values.Select(v => KeyValuePair.Create(v.Key, CanonicalJson.Normalize(v.Value))));

    /// <summary>A configuration of (name, value) pairs in order.</summary>
    public static Configuration Of(params (string Name, object? Value)[] values) =>
        Of(values.Select(v => KeyValuePair.Create(v.Name, v.Value)));

    /// <summary>A configuration read back from its <see cref="Json"/> (a JSON object; key order kept).</summary>
    public static Configuration FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException("a configuration is a JSON object", nameof(json));
        return new(document.RootElement.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.Clone())).ToArray());
    }

    internal static Configuration FromElements(IEnumerable<KeyValuePair<string, JsonElement>> values) => new(values);

    /// <summary>The active parameters' names in order.</summary>
    public IReadOnlyList<string> Names => _values.Select(v => v.Key).ToArray();

    /// <summary>The (name, value) pairs in order.</summary>
    public IReadOnlyList<KeyValuePair<string, JsonElement>> Values => _values;

    /// <summary>The number of active parameters.</summary>
    public int Count => _values.Length;

    /// <summary>The JSON object in the space's order (what a trial store keeps).</summary>
    public string Json { get; }

    /// <summary>The canonical JSON form: sorted keys, canonical numbers.</summary>
    public string Canonical { get; }

    /// <summary>SHA-256 of <see cref="Canonical"/>, lower-case hexadecimal.</summary>
    public string Hash { get; }

    /// <summary>The value of <paramref name="name"/>; <see cref="KeyNotFoundException"/> when the parameter is not active.</summary>
    public JsonElement this[string name] =>
        _byName.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"parameter '{name}' is not in this configuration");

    /// <summary>True when <paramref name="name"/> is active in this configuration.</summary>
    public bool Has(string name) => _byName.ContainsKey(name);

    /// <summary>The value of <paramref name="name"/> as an integer.</summary>
    public long GetInt(string name) => this[name].GetInt64();

    /// <summary>The value of <paramref name="name"/> as a double.</summary>
    public double GetDouble(string name) => this[name].GetDouble();

    /// <summary>The value of <paramref name="name"/> as a Boolean.</summary>
    public bool GetBool(string name) => this[name].GetBoolean();

    /// <summary>The value of <paramref name="name"/> as a string.</summary>
    public string GetString(string name) => this[name].GetString() ?? throw new InvalidOperationException($"parameter '{name}' is null");

    /// <summary>The value of <paramref name="name"/> deserialized as <typeparamref name="T"/>.</summary>
    public T? Get<T>(string name) => this[name].Deserialize<T>();

    /// <summary>The configuration with <paramref name="name"/> set to <paramref name="value"/> (added at the end when absent).</summary>
    internal Configuration With(string name, JsonElement value) =>
        Has(name) ? new(_values.Select(v => v.Key == name ? KeyValuePair.Create(name, value) : v))
                  : new(_values.Append(KeyValuePair.Create(name, value)));

    public bool Equals(Configuration? other) => other is not null && other.Canonical == Canonical;

    public override bool Equals(object? obj) => Equals(obj as Configuration);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Hash);

    /// <summary>"bits=4, block=32": a short summary for progress lines.</summary>
    public override string ToString() => string.Join(", ", _values.Select(v => $"{v.Key}={CanonicalJson.Of(v.Value)}"));

    private string OrderedJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var (k, v) in _values)
            {
                writer.WritePropertyName(k);
                v.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private Dictionary<string, JsonElement> ToObject()
    {
        var o = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (k, v) in _values) o[k] = v;
        return o;
    }
}
