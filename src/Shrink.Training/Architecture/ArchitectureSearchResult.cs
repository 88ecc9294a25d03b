using System.Text.Json;
using System.Text.Json.Serialization;
using Shrink.Architecture;
using Shrink.Search;

namespace Shrink.Training.Architecture;

/// <summary>
/// What an architecture search found so far (<c>DIR/result.json</c>, rewritten atomically after every trial): every trial,
/// the Pareto front of the goals among feasible trials, the best trial of each goal, the machine latency was measured on,
/// and at the end the fully trained models (<see cref="ArchitectureSearchOptions.FinalEpochs"/>).
/// </summary>
public sealed record ArchitectureSearchResult
{
    public required string Space { get; init; }
    public required string Directory { get; init; }
    public required ArchitectureStrategy Strategy { get; init; }
    /// <summary>The goals, e.g. "accuracy (maximize)".</summary>
    public required IReadOnlyList<string> Objectives { get; init; }
    /// <summary>The constraints, e.g. "params ≤ 100000".</summary>
    public required IReadOnlyList<string> Constraints { get; init; }
    /// <summary>The CPU model and ONNX Runtime threads of every latency figure.</summary>
    public required MachineInfo Machine { get; init; }
    public required IReadOnlyList<ArchitectureTrial> Trials { get; init; }
    /// <summary>The trials of the first front (feasible ones first by Deb's rule; with successive halving, of the top rung reached), by number.</summary>
    public required IReadOnlyList<int> Pareto { get; init; }
    /// <summary>The best trial of each goal (by metric), when one is ranked.</summary>
    public required IReadOnlyDictionary<string, int> Best { get; init; }
    /// <summary>The best of each goal trained afresh for the final epochs (empty until the run ends, or without final epochs).</summary>
    public IReadOnlyList<FinalModel> Final { get; init; } = [];
    /// <summary>Why the run stopped ("trial-limit", "exhausted", "cancelled"), or "running".</summary>
    public string Stop { get; init; } = "running";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a result written by <see cref="ToJson"/>.</summary>
    public static ArchitectureSearchResult FromJson(string json) => JsonSerializer.Deserialize<ArchitectureSearchResult>(json, Json)!;
}

/// <summary>One trial as the result shows it (<see cref="Number"/> counts from 0, as the store does; its files are in <c>trials/NNNN</c> with NNNN = Number + 1).</summary>
public sealed record ArchitectureTrial(int Number, string Status, string Origin, int? Parent, double Budget, string Summary,
    IReadOnlyDictionary<string, JsonElement> Configuration, IReadOnlyDictionary<string, double> Metrics, string? Model, string? Reason,
    bool Feasible, double? Seconds)
{
    internal static ArchitectureTrial Of(Trial t, Objective objective, ArchitectureSpace space) => new(t.Number, t.Status.ToString().ToLowerInvariant(),
        t.Origin, t.Parent, t.Budget, t.Attributes.GetValueOrDefault("summary") ?? space.Summary(t.Configuration),
        t.Configuration.Values.ToDictionary(v => v.Key, v => v.Value), t.Metrics, t.ModelPath, t.Error, objective.IsFeasible(t), t.Seconds);
}

/// <summary>The best trial of <see cref="Goal"/> trained afresh for <see cref="Epochs"/> epochs into <see cref="Model"/>, with its metrics.</summary>
public sealed record FinalModel(string Goal, int Trial, int Epochs, string Model, IReadOnlyDictionary<string, double> Metrics);
