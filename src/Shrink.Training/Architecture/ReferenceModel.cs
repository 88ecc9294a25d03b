using Shrink.Architecture;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;

namespace Shrink.Training.Architecture;

/// <summary>
/// A reference point of a search's report and results (<see cref="ArchitectureSearchOptions.References"/>): a network of the zoo
/// (<see cref="File"/> null), built and trained on the run's data for the epochs of a trial, or an already trained ONNX file,
/// scored and timed as it is. <see cref="Parse"/> reads <c>lenet5</c> or <c>lenet5=trained/lenet5.onnx</c>.
/// </summary>
public sealed record ReferenceModel(string Name, string? File = null)
{
    /// <summary>lenet5, lenet300 and vgg-small of the zoo.</summary>
    public static IReadOnlyList<ReferenceModel> Defaults { get; } = [new("lenet5"), new("lenet300"), new("vgg-small")];

    /// <summary><c>NAME</c> (a zoo model) or <c>NAME=FILE.onnx</c> (a trained model).</summary>
    public static ReferenceModel Parse(string text)
    {
        var i = text.IndexOf('=');
        return i < 0 ? new ReferenceModel(text.Trim()) : new ReferenceModel(text[..i].Trim(), text[(i + 1)..].Trim());
    }

    /// <summary>Throws <see cref="OptionsException"/> naming <see cref="ArchitectureSearchOptions.References"/> when the name is unknown or the file missing.</summary>
    internal void Validate()
    {
        if (File is null && !ModelZoo.Names.Contains(Name))
            throw OptionsException.For(nameof(ArchitectureSearchOptions.References), $"name '{Text.Message.Name(Name)}', which is not a zoo model; use {string.Join(", ", ModelZoo.Names)}, or NAME=FILE.onnx for a trained model");
        if (File is not null && !System.IO.File.Exists(File))
            throw OptionsException.For(nameof(ArchitectureSearchOptions.References), $"give '{Text.Message.Name(File)}' for {Text.Message.Name(Name)}, which does not exist; give a trained ONNX model");
    }
}

/// <summary>A reference point evaluated: how it was obtained (<see cref="Source"/>, the epochs it trained here, or null for a given file), its model and its metrics.</summary>
public sealed record ReferencePoint(string Name, string Source, int? Epochs, string Model, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// Evaluates a run's references at its end: a zoo model is trained as a trial is (same epochs, seed, optimizer, teacher) into
/// <c>DIR/references/NAME-eE.onnx</c> (kept, so a resumed run does not train it again), a given file is used as it is; each is
/// scored on the test split and timed like the trials. Zoo models take 1×28×28 inputs and 10 classes; on other data they are
/// left out with a note.
/// </summary>
internal static class SearchReferences
{
    public const string Directory = "references";

    public static IReadOnlyList<ReferencePoint> Evaluate(SearchRun run)
    {
        var points = new List<ReferencePoint>();
        var epochs = run.Options.EpochsPerTrial;
        foreach (var r in run.Options.References)
        {
            run.Session.Cancel.ThrowIfCancellationRequested();
            if (r.File is { } file)
            {
                points.Add(Point(run, r.Name, $"the trained file {file}, as given", null, Path.GetFullPath(file)));
                continue;
            }
            if (run.Sample is not [1, 28, 28] || run.Classes != 10)
            {
                run.Session.Note($"reference {r.Name} left out: the zoo's models take 1×28×28 inputs and 10 classes, and the data has {string.Join("×", run.Sample)} and {run.Classes}; give it as NAME=FILE.onnx");
                continue;
            }
            var path = Path.Combine(run.Directory, Directory, ArchitectureSearch.Invariant($"{r.Name}-e{epochs}.onnx"));
            if (!System.IO.File.Exists(path))
            {
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                ModelSaver.Save(CandidateEvaluator.Train(run, ModelZoo.Create(r.Name, run.Options.Seed), epochs, run.Session.Cancel), path);
            }
            points.Add(Point(run, r.Name, ArchitectureSearch.Invariant($"the zoo's {r.Name}, trained here for {epochs} epoch{(epochs == 1 ? "" : "s")} as a trial is"), epochs, path));
        }
        return points;
    }

    private static ReferencePoint Point(SearchRun run, string name, string source, int? epochs, string path)
    {
        var metrics = ArchitectureMetrics.Static(OnnxReader.Read(path));
        foreach (var kv in CandidateEvaluator.Measure(run, path)) metrics[kv.Key] = kv.Value;
        return new ReferencePoint(name, source, epochs, path, metrics);
    }
}
