using System.Collections;
using System.Reflection;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>
/// Builds typed values from YAML nodes (see <see cref="YamlTypes"/> for the shapes): strict — an unknown key,
/// a value of the wrong type, a duplicate set entry or a null where none is allowed is a <see cref="RecipeException"/>
/// naming the file, line, stage and key path. Keys resolve through the type's properties (kebab-case), never
/// through names looked up elsewhere.
/// </summary>
internal sealed class YamlBinder(string source, string? stage)
{
    /// <summary>The recipe file, for messages.</summary>
    public string Source => source;

    /// <summary>When set, receives the line of every key path bound in records ("options.distillation.alpha" → 12).</summary>
    public Dictionary<string, long>? Lines { get; init; }

    /// <summary>The value of <paramref name="type"/> that <paramref name="node"/> holds; <paramref name="key"/> is its path for messages.</summary>
    public object? Bind(YamlNode node, Type type, string key)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner)
            return node is YamlScalarNode n && YamlScalars.IsNull(n) ? null : Bind(node, inner, key);
        if (node is YamlScalarNode s && YamlScalars.IsNull(s) && !type.IsValueType) return null;
        if (YamlTypes.IsScalar(type)) return node is YamlScalarNode scalar ? Scalar(scalar, type, key) : throw Fail(node, key, $"must be {Expected(type)}, not {YamlScalars.Describe(node)}");
        if (YamlTypes.MapValue(type) is { } value) return Map(node, value, key);
        if (YamlTypes.Element(type) is { } element) return Sequence(node, type, element, key);
        return Record(node, type, key);
    }

    /// <summary>
    /// A record of <paramref name="type"/> holding its defaults, then each key of <paramref name="node"/> set. A positional
    /// record without a parameterless constructor is built through its primary constructor; keys it needs are required.
    /// </summary>
    public object Record(YamlNode node, Type type, string key)
    {
        if (node is not YamlMappingNode map) throw Fail(node, key, $"must be a mapping of keys ({Known(type)}), not {YamlScalars.Describe(node)}");
        var properties = YamlTypes.Properties(type);
        var values = new List<(string Key, PropertyInfo Property, object? Value)>();
        foreach (var (k, v) in map.Children)
        {
            var name = Key(k, key);
            var path = key.Length == 0 ? name : $"{key}.{name}";
            var property = properties.FirstOrDefault(p => p.Key == name).Property
                ?? throw Fail(k, path, properties.Count == 0 ? "unknown key; this takes no options" : $"unknown key; known keys: {Known(type)}");
            if (Lines is not null) Lines[path] = v.Start.Line;
            var bound = Bind(v, property.PropertyType, path);
            if (bound is null && !YamlTypes.AllowsNull(property)) throw Fail(v, path, $"must be {Expected(property.PropertyType)}, not null");
            values.Add((name, property, bound));
        }
        var instance = YamlTypes.Constructor(type) is { } ctor ? Construct(map, ctor, values, key) : YamlTypes.New(type);
        foreach (var (_, property, value) in values) property.SetValue(instance, value);
        return instance;
    }

    /// <summary>Calls a primary constructor with the keys named after its parameters (those with defaults may be left out).</summary>
    private object Construct(YamlMappingNode map, ConstructorInfo ctor, List<(string Key, PropertyInfo Property, object? Value)> values, string key)
    {
        var args = ctor.GetParameters().Select(p =>
        {
            var name = YamlScalars.Kebab(p.Name!);
            var given = values.FindIndex(v => v.Key == name);
            if (given >= 0) return values[given].Value;
            return p.HasDefaultValue ? p.DefaultValue : throw Fail(map, key.Length == 0 ? name : $"{key}.{name}", "missing; this key is required");
        }).ToArray();
        return ctor.Invoke(args);
    }

    /// <summary>The text of a mapping key, which must be a plain or quoted scalar.</summary>
    public string Key(YamlNode node, string parent) => node is YamlScalarNode { Value: { } text }
        ? text
        : throw Fail(node, parent.Length == 0 ? "(key)" : parent, $"a key must be a name, not {YamlScalars.Describe(node)}");

    public RecipeException Fail(YamlNode node, string key, string problem) => new(source, node.Start.Line, stage, key, problem);

    private object Scalar(YamlScalarNode s, Type type, string key)
    {
        if (type == typeof(string)) return s.Value ?? "";
        if (type.IsEnum) return Enum(s, type, key);
        if (type == typeof(bool)) return YamlScalars.Bool(s) ?? throw Fail(s, key, $"must be true or false, not {YamlScalars.Describe(s)}");
        if (type == typeof(double)) return YamlScalars.Float(s) ?? throw Fail(s, key, $"must be a number, not {YamlScalars.Describe(s)}");
        if (type == typeof(float)) return (float)(YamlScalars.Float(s) ?? throw Fail(s, key, $"must be a number, not {YamlScalars.Describe(s)}"));
        var (min, max) = IntegerRange(type);
        return YamlScalars.Integer(s) is { } v && v >= min && v <= max
            ? Convert.ChangeType(v, type, System.Globalization.CultureInfo.InvariantCulture)
            : throw Fail(s, key, $"must be an integer from {min} to {max}, not {YamlScalars.Describe(s)}");
    }

    /// <summary>An enum value by its kebab-case name or its C# name, case and hyphens aside (<c>min-max</c>, <c>MinMax</c>, <c>minmax</c>).</summary>
    private object Enum(YamlScalarNode s, Type type, string key)
    {
        static string Fold(string n) => n.Replace("-", "").ToLowerInvariant();
        var text = Fold(s.Value ?? "");
        foreach (var name in System.Enum.GetNames(type))
            if (Fold(name) == text) return System.Enum.Parse(type, name);
        throw Fail(s, key, $"must be one of {string.Join(", ", System.Enum.GetNames(type).Select(YamlScalars.Kebab))}, not {YamlScalars.Describe(s)}");
    }

    private Dictionary<string, object?> MapEntries(YamlNode node, Type value, string key)
    {
        if (node is not YamlMappingNode map) throw Fail(node, key, $"must be a mapping of names to {Expected(value)}, not {YamlScalars.Describe(node)}");
        var entries = new Dictionary<string, object?>();
        foreach (var (k, v) in map.Children)
        {
            var name = Key(k, key);
            var item = Bind(v, value, $"{key}.{name}");
            entries[name] = item ?? (value.IsValueType ? item : throw Fail(v, $"{key}.{name}", $"must be {Expected(value)}, not null"));
        }
        return entries;
    }

    private object Map(YamlNode node, Type value, string key)
    {
        var map = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), value))!;
        foreach (var (k, v) in MapEntries(node, value, key)) map[k] = v;
        return map;
    }

    private object Sequence(YamlNode node, Type type, Type element, string key)
    {
        if (node is not YamlSequenceNode seq) throw Fail(node, key, $"must be a list of {Expected(element)}, not {YamlScalars.Describe(node)}");
        var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var item = Bind(seq.Children[i], element, $"{key}[{i}]");
            if (item is null) throw Fail(seq.Children[i], $"{key}[{i}]", $"must be {Expected(element)}, not null");
            if (YamlTypes.IsSet(type) && list.Contains(item)) throw Fail(seq.Children[i], $"{key}[{i}]", $"{YamlScalars.Describe(seq.Children[i])} is listed twice");
            list.Add(item);
        }
        if (type.IsArray)
        {
            var array = Array.CreateInstance(element, list.Count);
            list.CopyTo(array, 0);
            return array;
        }
        return YamlTypes.IsSet(type) ? Activator.CreateInstance(typeof(HashSet<>).MakeGenericType(element), list)! : list;
    }

    private static (long Min, long Max) IntegerRange(Type t) =>
        (Convert.ToInt64(t.GetField("MinValue")!.GetValue(null)), t == typeof(long) ? long.MaxValue : Convert.ToInt64(t.GetField("MaxValue")!.GetValue(null)));

    private static string Known(Type type) => string.Join(", ", YamlTypes.Properties(type).Select(p => p.Key));

    private static string Expected(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t == typeof(string) ? "a string" : t == typeof(bool) ? "true or false" : t == typeof(double) || t == typeof(float) ? "a number"
            : YamlTypes.IsInteger(t) ? "an integer" : t.IsEnum ? $"one of {string.Join(", ", System.Enum.GetNames(t).Select(YamlScalars.Kebab))}"
            : YamlTypes.MapValue(t) is not null ? "a mapping" : YamlTypes.Element(t) is not null ? "a list" : "a mapping";
    }
}
