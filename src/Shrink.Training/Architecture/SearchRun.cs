using Shrink.Architecture;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Architecture;

/// <summary>What every trial of one architecture search shares: the run directory, the space, the options, the data and its shape, the teacher.</summary>
internal sealed class SearchRun
{
    public required string Directory { get; init; }
    public required ArchitectureSpace Space { get; init; }
    public required ArchitectureSearchOptions Options { get; init; }
    public required DataSplits Data { get; init; }
    /// <summary>The shape of one sample of the data's single input.</summary>
    public required IReadOnlyList<int> Sample { get; init; }
    public required int Classes { get; init; }
    public Model? Teacher { get; init; }
    public string TeacherName { get; init; } = "the teacher";
    /// <summary>The teacher's predictions on the test split (fidelity, for data without labels).</summary>
    public SamplePredictions? TeacherPredictions { get; init; }
    public required TechniqueSession Session { get; init; }
    public required MachineInfo Machine { get; init; }
    /// <summary>The per-block latency table of the run directory (<see cref="LatencyMode.Table"/> and <see cref="LatencyMode.TableOnly"/>), else null.</summary>
    public LatencyTable? Table { get; init; }

    public Objective Objective => new(Options.Objectives, Options.Constraints);

    /// <summary>True when candidates are scored by agreement with the teacher (the data has no labels).</summary>
    public bool ByFidelity => Data.Test.ClassCount is null;

    /// <summary>The directory of trial <paramref name="number"/> (0-based in the store, counted from 1 in files and lines): <c>DIR/trials/0007</c> for number 6.</summary>
    public string TrialDirectory(int number) => Path.Combine(Directory, "trials", (number + 1).ToString("D4", System.Globalization.CultureInfo.InvariantCulture));
}
