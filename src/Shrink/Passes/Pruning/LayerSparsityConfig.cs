using System.Text.Json;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Per-layer sparsities from a JSON file mapping layer names to sparsities, for example
/// <c>{"conv1": 0.5, "gemm1": 0.9}</c> (the shape <c>shrink sensitivity</c> suggests). Only the listed
/// layers are pruned.
/// </summary>
public static class LayerSparsityConfig
{
    /// <summary>Reads the file; <paramref name="what"/> names it in messages (the CLI passes the flag that gave it).</summary>
    public static IReadOnlyDictionary<string, double> Read(string path, string what = "the layer file")
    {
        if (!File.Exists(path)) throw new OptionsException($"{what} '{path}' does not exist; give a JSON file such as {{\"conv1\": 0.5}}");
        if (IO.FileIdentity.NotRegular(path, what) is { } problem) throw new OptionsException(problem);
        Dictionary<string, double>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new OptionsException($"{what} '{path}' is not a JSON object of layer names to sparsities ({e.Message.Split('.')[0]}); write e.g. {{\"conv1\": 0.5}}");
        }
        if (map is null || map.Count == 0) throw new OptionsException($"{what} '{path}' names no layers; write e.g. {{\"conv1\": 0.5}}");
        foreach (var (layer, s) in map)
            if (double.IsNaN(s) || s < 0 || s >= 1) throw new OptionsException($"the sparsity of layer '{layer}' in {path} is {s}; it must be in [0, 1), e.g. 0.9 for 90 % zeros");
        return map;
    }
}
