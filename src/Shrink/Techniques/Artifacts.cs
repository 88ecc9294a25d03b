using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shrink.Techniques;

/// <summary>Artifacts as JSON: <c>{"kind": …, "version": …, …the record's properties}</c>, enums as strings.</summary>
public static class Artifacts
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string ToJson(IArtifact artifact) => JsonSerializer.Serialize(artifact, artifact.GetType(), Json);

    /// <summary>
    /// Reads an artifact of type <typeparamref name="T"/>; a different kind or an unknown version is a
    /// <see cref="ModelFormatException"/> naming both.
    /// </summary>
    public static T FromJson<T>(string json, string source = "artifact") where T : class, IArtifact
    {
        T? value;
        try { value = JsonSerializer.Deserialize<T>(json, Json); }
        catch (JsonException e) { throw new ModelFormatException($"{source}: not a valid artifact ({e.Message})", e); }
        if (value is null) throw new ModelFormatException($"{source}: empty artifact");
        var expected = (T)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(T));
        if (value.Kind != expected.Kind || value.Version != expected.Version)
            throw new ModelFormatException($"{source}: a '{value.Kind}' artifact of version {value.Version}; expected '{expected.Kind}' version {expected.Version}");
        return value;
    }
}
