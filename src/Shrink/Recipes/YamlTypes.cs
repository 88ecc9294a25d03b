using System.Reflection;

namespace Shrink.Recipes;

/// <summary>
/// The shapes of option types a recipe can hold: scalars (strings, booleans, integers, floating point,
/// enums, and their nullable forms), lists and sets of them, dictionaries keyed by strings, and records
/// with a parameterless constructor whose public settable (or init) properties are the keys.
/// </summary>
internal static class YamlTypes
{
    private static readonly Type[] ListTypes =
        [typeof(IReadOnlyList<>), typeof(IList<>), typeof(List<>), typeof(IEnumerable<>), typeof(ICollection<>), typeof(IReadOnlyCollection<>)];

    private static readonly Type[] SetTypes = [typeof(IReadOnlySet<>), typeof(ISet<>), typeof(HashSet<>)];

    private static readonly Type[] MapTypes = [typeof(IReadOnlyDictionary<,>), typeof(IDictionary<,>), typeof(Dictionary<,>)];

    public static bool IsInteger(Type t) =>
        t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(uint) || t == typeof(ushort) || t == typeof(sbyte);

    public static bool IsScalar(Type t) => t == typeof(string) || t == typeof(bool) || t == typeof(double) || t == typeof(float) || IsInteger(t) || t.IsEnum;

    /// <summary>The element type of a list, set or array type, or null.</summary>
    public static Type? Element(Type t) =>
        t.IsArray ? t.GetElementType()
        : t.IsGenericType && (ListTypes.Contains(t.GetGenericTypeDefinition()) || SetTypes.Contains(t.GetGenericTypeDefinition())) ? t.GetGenericArguments()[0]
        : null;

    public static bool IsSet(Type t) => t.IsGenericType && SetTypes.Contains(t.GetGenericTypeDefinition());

    /// <summary>The value type of a dictionary type keyed by strings, or null.</summary>
    public static Type? MapValue(Type t)
    {
        if (!t.IsGenericType || !MapTypes.Contains(t.GetGenericTypeDefinition())) return null;
        var args = t.GetGenericArguments();
        return args[0] == typeof(string) ? args[1] : throw new ArgumentException($"recipes hold dictionaries keyed by strings, not {t.Name}");
    }

    /// <summary>The keys of a record type: its public instance properties with a public setter or init accessor, in declaration order.</summary>
    public static IReadOnlyList<(string Key, PropertyInfo Property)> Properties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken)
            .Select(p => (YamlScalars.Kebab(p.Name), p))
            .ToList();

    /// <summary>True when the property may hold null (a nullable value type, or a reference type annotated nullable).</summary>
    public static bool AllowsNull(PropertyInfo p) =>
        Nullable.GetUnderlyingType(p.PropertyType) is not null
        || !p.PropertyType.IsValueType && new NullabilityInfoContext().Create(p).WriteState != NullabilityState.NotNull;

    /// <summary>A new instance holding the type's defaults; a type without a parameterless constructor is API misuse.</summary>
    public static object New(Type t) =>
        t.GetConstructor(Type.EmptyTypes) is { } ctor ? ctor.Invoke(null)
        : t.IsValueType ? Activator.CreateInstance(t)!
        : throw new ArgumentException($"options type {t.Name} has no parameterless constructor; a recipe cannot build it without its required keys");

    /// <summary>The primary constructor of a positional record (one without a parameterless constructor), or null.</summary>
    public static ConstructorInfo? Constructor(Type t) =>
        t.IsValueType || t.GetConstructor(Type.EmptyTypes) is not null ? null
        : t.GetConstructors().Where(c => c.GetParameters().All(p => Properties(t).Any(q => q.Property.Name == p.Name)))
            .OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()
          ?? throw new ArgumentException($"type {t.Name} has no constructor whose parameters are its properties; a recipe cannot build it");
}
