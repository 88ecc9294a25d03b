using Shrink.Architecture;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Search;

namespace Shrink.Training.Architecture;

/// <summary>
/// The models a search ends with: the best trial of each goal as <c>DIR/best-GOAL.onnx</c> and every trial of the Pareto front
/// as <c>DIR/front/trial-NNNN.onnx</c>. With <see cref="ArchitectureSearchOptions.FinalEpochs"/> each of these configurations is
/// trained afresh (same seed) for that many epochs, once however many roles it has, and measured as the trials were; without,
/// they are the trials' own models. Every file goes through <see cref="ModelSaver"/> (loaded in ONNX Runtime); a front file of
/// an earlier end of the same run that is no longer on the front is removed.
/// </summary>
internal sealed class SearchOutputs(SearchRun run, IReadOnlyList<Trial> trials)
{
    public const string FrontDirectory = "front";

    private readonly Dictionary<int, (Ir.Model Model, IReadOnlyDictionary<string, double> Metrics)> _made = [];

    /// <summary>The best of each goal of <paramref name="best"/> and each trial of <paramref name="front"/>, written.</summary>
    public (IReadOnlyList<FinalModel> Best, IReadOnlyList<FinalModel> Front) Write(IReadOnlyDictionary<string, int> best, IReadOnlyList<int> front)
    {
        var bests = best.Where(kv => HasModel(kv.Value)).Select(kv => Output(kv.Value, kv.Key, Path.Combine(run.Directory, $"best-{kv.Key.Replace('_', '-')}.onnx"))).ToList();
        var folder = Path.Combine(run.Directory, FrontDirectory);
        Directory.CreateDirectory(folder);
        var fronts = front.Where(HasModel).Select(n => Output(n, "front", Path.Combine(folder, FileName(n)))).ToList();
        var kept = fronts.Select(f => Path.GetFileName(f.Model)).ToHashSet();
        foreach (var stale in Directory.EnumerateFiles(folder, "trial-*.onnx").Where(f => !kept.Contains(Path.GetFileName(f)))) File.Delete(stale);
        return (bests, fronts);
    }

    /// <summary><c>trial-0007.onnx</c> for trial number 6 (counted from 1 in files, as <c>trials/0007</c>).</summary>
    public static string FileName(int number) => $"trial-{number + 1:D4}.onnx";

    private bool HasModel(int number) => trials.FirstOrDefault(t => t.Number == number)?.ModelPath is not null;

    private FinalModel Output(int number, string role, string path)
    {
        var trial = trials.First(t => t.Number == number);
        var epochs = run.Options.FinalEpochs > 0 ? run.Options.FinalEpochs : run.Options.EpochsAt(trial.Budget);
        if (_made.TryGetValue(number, out var made)) ModelSaver.Save(made.Model, path);
        else if (run.Options.FinalEpochs > 0)
        {
            var model = run.Space.Build(trial.Configuration, run.Sample, run.Classes, run.Options.Seed);
            var trained = CandidateEvaluator.Train(run, model, epochs, run.Session.Cancel);
            ModelSaver.Save(trained, path);
            var metrics = ArchitectureMetrics.Static(trained);
            foreach (var kv in CandidateEvaluator.Measure(run, path)) metrics[kv.Key] = kv.Value;
            _made[number] = made = (trained, metrics);
            run.Session.Note(ArchitectureSearch.Invariant($"trial {number + 1} trained for {epochs} epochs into {path}"));
        }
        else
        {
            var model = OnnxReader.Read(Path.Combine(run.Directory, trial.ModelPath!));
            ModelSaver.Save(model, path);
            _made[number] = made = (model, trial.Metrics);
        }
        return new FinalModel(role, number, epochs, path, made.Metrics);
    }
}
