using System.Text.Json;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Per-layer sparsities from a JSON file mapping layer names to sparsities, for example
/// <c>{"conv1": 0.5, "gemm1": 0.9}</c> (the shape <c>shrink sensitivity</c> suggests). Only the listed
/// layers are pruned.
/// </summary>
public static class LayerSparsityConfig
{
    public static IReadOnlyDictionary<string, double> Read(string path)
    {
        if (!File.Exists(path)) throw new OptionsException($"--layers '{path}' does not exist; give a JSON file such as {{\"conv1\": 0.5}}");
        if (IO.FileIdentity.NotRegular(path, "--layers") is { } problem) throw new OptionsException(problem);
        Dictionary<string, double>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new OptionsException($"--layers '{path}' is not a JSON object of layer names to sparsities ({e.Message.Split('.')[0]}); write e.g. {{\"conv1\": 0.5}}");
        }
        if (map is null || map.Count == 0) throw new OptionsException($"--layers '{path}' names no layers; write e.g. {{\"conv1\": 0.5}}");
        foreach (var (layer, s) in map) UnstructuredPruneOptions.CheckSparsity(s, $"layer '{layer}' in {path}");
        return map;
    }
}
