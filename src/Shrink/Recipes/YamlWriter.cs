using System.Collections;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>
/// Writes typed values as YAML nodes that <see cref="YamlBinder"/> reads back to equal values: every property
/// of a record (nulls as <c>null</c>, so a lock shows every option), dictionaries and sets sorted, floating point
/// in round-trip form. A type a recipe cannot hold is API misuse (<see cref="ArgumentException"/>).
/// </summary>
internal static class YamlWriter
{
    public static YamlNode Node(object? value, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (value is null) return YamlScalars.Plain("null");
        if (YamlTypes.IsScalar(type)) return Scalar(value, type);
        if (YamlTypes.MapValue(type) is { } valueType) return Map((IEnumerable)value, valueType);
        if (YamlTypes.Element(type) is { } element) return Sequence((IEnumerable)value, element, YamlTypes.IsSet(type));
        if (type.IsPrimitive || type == typeof(decimal) || typeof(Delegate).IsAssignableFrom(type))
            throw new ArgumentException($"a recipe cannot hold a value of type {type.Name}");
        return Record(value, type);
    }

    public static YamlMappingNode Record(object value, Type type)
    {
        var map = new YamlMappingNode();
        foreach (var (key, property) in YamlTypes.Properties(type))
        {
            try { map.Add(YamlScalars.Plain(key), Node(property.GetValue(value), property.PropertyType)); }
            catch (ArgumentException e) when (e.ParamName is null) { throw new ArgumentException($"{type.Name}.{property.Name}: {e.Message}", "value"); }
        }
        return map;
    }

    /// <summary>The YAML text of a document, with <paramref name="header"/> lines as comments above it.</summary>
    public static string Text(YamlNode root, IEnumerable<string> header)
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        foreach (var line in header) writer.WriteLine($"# {line}");
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        var text = writer.ToString();
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    private static YamlNode Scalar(object value, Type type) => value switch
    {
        string s => YamlScalars.String(s),
        bool b => YamlScalars.Plain(b ? "true" : "false"),
        double d => YamlScalars.Number(d),
        float f => YamlScalars.Plain(float.IsFinite(f) ? f.ToString("R", CultureInfo.InvariantCulture) : YamlScalars.Number(f).Value!),
        Enum e => YamlScalars.Plain(YamlScalars.Kebab(Enum.GetName(type, e) ?? throw new ArgumentException($"{type.Name} value {e} has no name; a recipe writes enums by name"))),
        _ => YamlScalars.Plain(Convert.ToString(value, CultureInfo.InvariantCulture)!),
    };

    private static YamlNode Map(IEnumerable entries, Type valueType)
    {
        var pairs = new List<(string Key, object? Value)>();
        foreach (var entry in entries)
        {
            var t = entry.GetType();
            pairs.Add(((string)t.GetProperty("Key")!.GetValue(entry)!, t.GetProperty("Value")!.GetValue(entry)));
        }
        var map = new YamlMappingNode();
        foreach (var (key, value) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal)) map.Add(YamlScalars.String(key), Node(value, valueType));
        return map;
    }

    private static YamlNode Sequence(IEnumerable items, Type element, bool sorted)
    {
        var nodes = items.Cast<object?>().Select(i => Node(i, element)).ToList();
        if (sorted) nodes = nodes.OrderBy(n => (n as YamlScalarNode)?.Value ?? "", StringComparer.Ordinal).ToList();
        var seq = new YamlSequenceNode(nodes);
        if (YamlTypes.IsScalar(Nullable.GetUnderlyingType(element) ?? element)) seq.Style = YamlDotNet.Core.Events.SequenceStyle.Flow;
        return seq;
    }
}
