using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>
/// Names and scalars in recipes. Keys and enum values are kebab-case: a hyphen before each capital that
/// follows a lower-case letter or a digit, then lower case (<c>LearningRate</c> → <c>learning-rate</c>,
/// <c>MinMax</c> → <c>min-max</c>, <c>UInt8</c> → <c>uint8</c>). Plain scalars are resolved as YAML 1.2's core
/// schema does (null, booleans, integers, floats with <c>.inf</c> and <c>.nan</c>); quoted scalars are strings.
/// </summary>
internal static partial class YamlScalars
{
    /// <summary>The kebab-case form of a C# member name.</summary>
    public static string Kebab(string name)
    {
        var b = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]))) b.Append('-');
            b.Append(char.ToLowerInvariant(name[i]));
        }
        return b.ToString();
    }

    /// <summary>True for a plain scalar that YAML reads as null (empty, <c>~</c>, <c>null</c>).</summary>
    public static bool IsNull(YamlScalarNode s) => s.Style == ScalarStyle.Plain && s.Value is "" or "~" or "null" or "Null" or "NULL" or null;

    public static bool? Bool(YamlScalarNode s) => s.Style != ScalarStyle.Plain ? null : s.Value switch
    {
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        _ => null,
    };

    /// <summary>The integer a plain scalar holds, or null (not an integer, or past ±2^63).</summary>
    public static long? Integer(YamlScalarNode s) =>
        s.Style == ScalarStyle.Plain && IntegerPattern().IsMatch(s.Value ?? "") && long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>The number a plain scalar holds (integers included), or null.</summary>
    public static double? Float(YamlScalarNode s)
    {
        if (s.Style != ScalarStyle.Plain || s.Value is not { } v) return null;
        switch (v)
        {
            case ".nan" or ".NaN" or ".NAN": return double.NaN;
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF": return double.PositiveInfinity;
            case "-.inf" or "-.Inf" or "-.INF": return double.NegativeInfinity;
        }
        return FloatPattern().IsMatch(v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    /// <summary>A scalar for a number, written so that it reads back as the same value.</summary>
    public static YamlScalarNode Number(double d) => Plain(
        double.IsNaN(d) ? ".nan" : double.IsPositiveInfinity(d) ? ".inf" : double.IsNegativeInfinity(d) ? "-.inf" : d.ToString("R", CultureInfo.InvariantCulture));

    public static YamlScalarNode Plain(string text) => new(text) { Style = ScalarStyle.Plain };

    /// <summary>A scalar for a string: plain when it reads back as that string, else double-quoted.</summary>
    public static YamlScalarNode String(string text)
    {
        var plain = Plain(text);
        var ambiguous = IsNull(plain) || Bool(plain) is not null || Float(plain) is not null || text.Trim() != text;
        return ambiguous ? new YamlScalarNode(text) { Style = ScalarStyle.DoubleQuoted } : new YamlScalarNode(text);
    }

    /// <summary>How a node reads in a message: "a mapping", "a list", "the string 'x'", "the value 0.5".</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s when IsNull(s) => "null",
        YamlScalarNode { Style: ScalarStyle.Plain } s => $"'{Text.Message.Name(s.Value ?? "")}'",
        YamlScalarNode s => $"the quoted string '{Text.Message.Name(s.Value ?? "")}'",
        _ => "an alias",
    };

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
