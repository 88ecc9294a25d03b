using System.Text.Json;
using System.Text.Json.Serialization;
using Shrink.Data;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Techniques;

namespace Shrink.Recipes;

/// <summary>
/// What one stage of a recipe run produced, as written to <c>DIR/NN-technique.json</c>: the model file and its
/// SHA-256 (and the SHA-256 of the stage's input, so a resumed run can tell a finished stage), size, parameters,
/// non-zeros, MACs, on the recipe's labelled test data accuracy, top-5 and loss in ONNX Runtime, on test data without
/// labels each output's fidelity to the stage's input model, the stage's seconds, and the technique's artifacts and notes.
/// </summary>
public sealed record StageMetrics
{
    /// <summary>The schema of this file.</summary>
    public int Version { get; init; } = 1;

    /// <summary>1-based stage number.</summary>
    public int Stage { get; init; }
    public string Technique { get; init; } = "";

    /// <summary>The model's file name, in the run's directory.</summary>
    public string Model { get; init; } = "";
    public string ModelSha256 { get; init; } = "";
    public string InputSha256 { get; init; } = "";
    public long Bytes { get; init; }
    public long Parameters { get; init; }
    public long NonZero { get; init; }
    public double Sparsity { get; init; }
    public long Macs { get; init; }

    /// <summary>The name of the test data measured on, or null without data.</summary>
    public string? Data { get; init; }

    /// <summary>Top-1 accuracy on the recipe's test set in ONNX Runtime, or null without labelled data.</summary>
    public double? Accuracy { get; init; }

    /// <summary>Top-5 accuracy on the recipe's test set, or null without labelled data.</summary>
    public double? Top5 { get; init; }

    /// <summary>Mean cross-entropy on the recipe's test set, or null without labelled data.</summary>
    public double? Loss { get; init; }

    /// <summary>On test data without labels, each output's fidelity to the stage's input model; else null.</summary>
    public IReadOnlyList<Evaluation.OutputFidelity>? Fidelity { get; init; }

    /// <summary>Seconds the technique ran (not counting the writing and measuring).</summary>
    public double Seconds { get; init; }

    /// <summary>The technique's artifacts, each as <see cref="Artifacts.ToJson"/> writes it.</summary>
    public IReadOnlyList<JsonElement> Artifacts { get; init; } = Array.Empty<JsonElement>();

    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();

    /// <summary>Every training epoch the stage ran (each fine-tuning, round or teacher, by its label), in order; null when it trained none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<TechniqueEpoch>? Training { get; init; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    /// <summary>Reads a metrics file; null when it is not one (a stage whose metrics cannot be read runs again).</summary>
    public static StageMetrics? TryRead(string path)
    {
        try { return JsonSerializer.Deserialize<StageMetrics>(File.ReadAllText(path), Json) is { Version: 1 } m ? m : null; }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// Measures the model file at <paramref name="file"/> (the staged file that will ship) and fills in the stage's facts;
    /// on test data without labels its fidelity to <paramref name="input"/>, the stage's input model.
    /// </summary>
    internal static StageMetrics Measure(string file, Ir.Model input, IDataSource? test, RunnerOptions runner, StageMetrics facts)
    {
        var stats = ModelStats.Compute(file);
        using var session = test is null ? null : OnnxRunner.Load(file, runner);
        var eval = test is { ClassCount: not null } ? session!.Evaluate(test, 256) : null;
        IReadOnlyList<Evaluation.OutputFidelity>? fidelity = null;
        if (test is { ClassCount: null })
        {
            using var reference = OnnxRunner.FromModel(input, runner, "the stage's input model");
            fidelity = Evaluation.Fidelity.Measure(reference, session!, test);
        }
        return facts with
        {
            ModelSha256 = RecipeLock.ModelFileHash(file), Bytes = stats.BytesOnDisk, Parameters = stats.Parameters, NonZero = stats.NonZero,
            Sparsity = stats.Sparsity, Macs = stats.Macs, Data = test?.Name, Accuracy = eval?.Accuracy, Top5 = eval?.Top5Accuracy, Loss = eval?.Loss, Fidelity = fidelity,
        };
    }

    internal static IReadOnlyList<JsonElement> ArtifactsJson(IEnumerable<IArtifact> artifacts) =>
        artifacts.Select(a => JsonDocument.Parse(Techniques.Artifacts.ToJson(a)).RootElement.Clone()).ToList();
}
