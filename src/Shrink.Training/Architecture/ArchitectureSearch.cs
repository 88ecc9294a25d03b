using System.Globalization;
using Shrink.Architecture;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Architecture;

/// <summary>One line of progress: a trial started or finished (with the whole history so far).</summary>
public sealed record ArchitectureProgress(Trial Trial, bool Finished, string Summary, int Trials, bool Feasible);

/// <summary>
/// Hardware-aware architecture search (<c>shrink search</c>): candidates of an <see cref="ArchitectureSpace"/> are proposed by
/// the search engine's strategies (<see cref="ArchitectureStrategy"/>), built, checked against the constraints known before
/// training, trained briefly (optionally distilled from a teacher), scored on the test split and timed in ONNX Runtime on this
/// machine (<see cref="CandidateEvaluator"/>). Trials live in the run directory's <c>trials.db</c> (<see cref="SqliteTrialStore"/>),
/// so a run killed at any moment continues with <see cref="ArchitectureSearchOptions.Resume"/> without losing a finished trial.
/// </summary>
/// <remarks>
/// The run directory: <c>options.json</c> (what a resume must share, <see cref="RunIdentity"/>), <c>trials.db</c>,
/// <c>trials/NNNN/model.onnx</c> per trained candidate, <c>result.json</c> (<see cref="ArchitectureSearchResult"/>) and
/// <c>pareto.json</c> and the report page (<c>report.html</c>, <c>report.json</c>) rewritten atomically after every trial; at the end
/// <c>best-GOAL.onnx</c> per goal and <c>front/trial-NNNN.onnx</c> per trial of the front (<see cref="SearchOutputs"/>, trained
/// afresh with final epochs), the reference points (<see cref="SearchReferences"/>), and <c>latency-table.json</c> in table mode.
/// </remarks>
public static class ArchitectureSearch
{
    /// <summary>The study's name in <c>trials.db</c>.</summary>
    public const string StudyName = "search";

    /// <summary>
    /// Searches <paramref name="space"/> on <paramref name="data"/> (its training split trains the candidates, its test split
    /// scores them; <see cref="RecipeData.Teacher"/>: the teacher they are distilled from) into <paramref name="directory"/>.
    /// Every check of the inputs runs before anything is written. <paramref name="progress"/> hears each trial start and finish.
    /// </summary>
    public static ArchitectureSearchResult Run(ArchitectureSpace space, RecipeData data, ArchitectureSearchOptions options, string directory,
        TechniqueSession session, Action<ArchitectureProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(space);
        options.Validate();
        if (options.Role == SearchRole.Coordinator) JobInputs.Check(data);
        directory = Path.GetFullPath(directory);
        using var shared = options.Storage is { } storage ? TrialStorage.Parse(storage).Open() : null;   // unreachable: refused before anything is written
        var run = Prepare(space, data, options, directory, session);
        var strategy = Strategy(space.Space, run.Objective, options);
        var identity = Identity(space, data, options);
        RunIdentity.Check(directory, identity, options.Resume, nameof(ArchitectureSearchOptions.Resume), "search", options.Storage is null);
        RunIdentity.Write(directory, identity, options.Resume);
        var files = new SearchFiles(run);
        using var local = shared is null ? SqliteTrialStore.OpenExclusive(directory) : null;
        var store = shared ?? local!;
        var artifacts = options.Role == SearchRole.Coordinator ? new ArtifactStore(options.Artifacts!) : null;
        var job = artifacts is null ? null : ArchitectureJob.Job(space, data, options, artifacts).ToJson();
        var study = Study.Open(store, options.StudyName ?? StudyName, space.Space, strategy.Settings, options.Resume, job);
        IReadOnlyList<Trial> Trials() => artifacts is null ? study.Trials() : TrialFiles.Localize(study.Trials(), directory, artifacts);
        void Tell(Trial t, bool finished)
        {
            if (finished) files.Update(Trials());
            progress?.Invoke(new ArchitectureProgress(t, finished, t.Attributes.GetValueOrDefault("summary") ?? space.Summary(t.Configuration), options.Trials, run.Objective.IsFeasible(t)));
        }
        var summary = artifacts is null
            ? new SearchRunner(study, strategy, new SearchRunOptions
            {
                MaxTrials = options.Trials, Workers = options.Workers, Resume = options.Resume, Threads = Math.Max(options.Workers, Environment.ProcessorCount),
                SoleCoordinator = options.Storage is null,
                Started = t => Tell(t, false), Finished = t => Tell(t, true),
            }).RunAsync(new CandidateEvaluator(run).Evaluate, session.Cancel).GetAwaiter().GetResult()
            : new SearchCoordinator(study, strategy, new CoordinatorOptions { MaxTrials = options.Trials, Finished = t => Tell(t, true) })
                .RunAsync(session.Cancel).GetAwaiter().GetResult();
        session.Cancel.ThrowIfCancellationRequested();
        var stop = summary.Stop == SearchStop.Exhausted ? "exhausted" : "trial-limit";
        var trials = Trials();
        var result = files.Update(trials, stop);
        var (best, front) = new SearchOutputs(run, trials).Write(result.Best, result.Pareto);
        return files.Update(trials, stop, new SearchEnd(best, front, SearchReferences.Evaluate(run)));
    }

    /// <summary>Loads the data and the teacher and checks everything against the space: nothing is written yet.</summary>
    internal static SearchRun Prepare(ArchitectureSpace space, RecipeData data, ArchitectureSearchOptions options, string directory, TechniqueSession session)
    {
        var inputs = RecipeInputs.Load(new Recipe { Data = data with { Teacher = null } });
        var splits = inputs.Data ?? throw OptionsException.For(nameof(RecipeData), "holds no data; a search trains on the training split and scores on the test split");
        if (splits.Train.Inputs.Count != 1)
            throw new DataException($"{splits.Train.Name} has {splits.Train.Inputs.Count} inputs; a searched network takes one");
        var sample = splits.Train.Inputs[0].SampleShape;
        var teacher = data.Teacher is { } t ? OnnxReader.Read(t) : null;
        var classes = splits.Train.ClassCount ?? (teacher is null
            ? throw new DataException($"{splits.Train.Name} has no labels; give labelled data, or a teacher to learn from")
            : TeacherClasses(teacher, null, data.Teacher!));
        if (teacher is not null) TeacherClasses(teacher, splits.Train.ClassCount, data.Teacher!);
        space.Check(sample, classes);
        var byFidelity = splits.Test.ClassCount is null;
        foreach (var g in options.Objectives.Select(g => g.Metric).Concat(options.Constraints.Select(c => c.Metric)))
            if (g == (byFidelity ? ArchitectureMetrics.Accuracy : ArchitectureMetrics.Fidelity))
                throw OptionsException.For(nameof(ArchitectureSearchOptions.Objectives), byFidelity
                    ? $"name accuracy, and {splits.Test.Name} has no labels; use fidelity (agreement with the teacher)"
                    : $"name fidelity, which is scored on data without labels; {splits.Test.Name} has labels: use accuracy");
        if (teacher is not null) Distillation.Distiller.Check(space.Build(space.Space.Sample(SearchRandom.For(options.Seed, "check", 0)), sample, classes), teacher, splits);
        var machine = MachineInfo.Here(options.LatencyThreads);
        return new SearchRun
        {
            Directory = directory, Space = space, Options = options, Data = splits, Sample = sample, Classes = classes, Teacher = teacher,
            TeacherName = data.Teacher ?? "the teacher", Session = session, Machine = machine,
            Table = options.Latency == LatencyMode.Measured ? null : LatencyTable.Open(directory, machine, options.LatencyBatches),
            TeacherPredictions = teacher is not null && byFidelity ? SamplePredictions.Of(data.Teacher!, splits.Test) : null,
        };
    }

    /// <summary>The teacher's classes (its output's last axis), refused when it differs from the data's.</summary>
    private static int TeacherClasses(Ir.Model teacher, int? dataClasses, string path)
    {
        var output = teacher.Graph.Outputs.FirstOrDefault()?.Shape;
        var classes = output is { Rank: >= 2 } s && s[s.Rank - 1].IsKnown ? (int)s[s.Rank - 1].Value!.Value : (int?)null;
        if (classes is null)
            throw new DataException($"the teacher {Text.Message.Name(path)} has no classifier output of known size; give a teacher whose first output is [N, classes]");
        if (dataClasses is { } d && d != classes)
            throw new DataException($"the teacher {Text.Message.Name(path)} gives {classes} classes and the data has {d}; give a teacher trained on these classes");
        return classes.Value;
    }

    private static Dictionary<string, string> Identity(ArchitectureSpace space, RecipeData data, ArchitectureSearchOptions options)
    {
        var identity = options.Identity();
        identity["Space"] = space.Space.Hash;
        identity["Data"] = data.Source ?? data.FashionMnist ?? "";
        identity["Teacher"] = data.Teacher is { } teacher ? RecipeLock.ModelFileHash(teacher) : "";
        identity[nameof(RecipeData.TrainLimit)] = $"{data.TrainLimit}";
        return identity;
    }

    private static ISearchStrategy Strategy(SearchSpace space, Objective objective, ArchitectureSearchOptions options) => options.Strategy switch
    {
        ArchitectureStrategy.Random => new RandomSearch(space, options.Seed),
        ArchitectureStrategy.Annealing => new SimulatedAnnealing(space, objective, options.Seed),
        ArchitectureStrategy.Halving => new SuccessiveHalving(new RandomSearch(space, options.Seed), objective, minBudget: options.SuccessiveHalvingMinBudget),
        _ => new RegularizedEvolution(space, objective, options.Seed, population: 10, sample: 3),
    };

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
