using System.Text.Json;

namespace Shrink.Cli;

/// <summary>The JSON files that <c>--layers</c> names, read into the typed data the library takes.</summary>
internal static class LayerFiles
{
    /// <summary>A JSON object of layer name → cluster bits, e.g. <c>{"conv1": 8, "gemm1": 5}</c>.</summary>
    public static IReadOnlyDictionary<string, int> ReadBits(string path)
    {
        if (!File.Exists(path)) throw new OptionsException($"--layers '{path}' does not exist; give a JSON file such as {{\"conv1\": 8, \"gemm1\": 5}}");
        if (IO.FileIdentity.NotRegular(path, "--layers") is { } problem) throw new OptionsException(problem);
        try
        {
            var map = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(path));
            if (map is null || map.Count == 0) throw new OptionsException($"--layers '{path}' names no layers; write e.g. {{\"conv1\": 8}}");
            return map;
        }
        catch (JsonException e)
        {
            throw new OptionsException($"--layers '{path}' is not a JSON object of layer names to bits ({e.Message.Split('.')[0]}); write e.g. {{\"conv1\": 8}}");
        }
    }
}
