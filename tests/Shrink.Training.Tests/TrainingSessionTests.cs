using System.Globalization;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Factorization;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;
using Shrink.Techniques;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Training.Quantization;
using Shrink.Training.Sharing;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>
/// One training session for every fine-tuning: each technique's training, interrupted through the session's
/// token after a known number of optimizer steps (in one of its runs, then in another) and resumed from the
/// session's run directory, ends in the weights of an uninterrupted run without checkpoints, bit for bit;
/// finished runs are not trained again. The torch collection keeps other training from moving the
/// process-wide generator in between.
/// </summary>
[Collection("torch")]
public class TrainingSessionTests
{
    private static readonly DataSplits Data = Subset(FashionMnist.LoadEmbedded());
    private static readonly TechniqueInputs Inputs = new() { Data = Data };

    /// <summary>2 epochs of 4 batches: 8 optimizer steps per fine-tuning.</summary>
    private static readonly FineTuneOptions Tuning = new() { Epochs = 2, Batch = 64, LearningRate = 0.05, Seed = 3 };

    /// <summary>Reads a hook's state at the start and after every epoch, while the hook is alive (the fine-tuning disposes it).</summary>
    private sealed class Capture(Action read) : ITrainingHook
    {
        public void OnTrainStart(Trainer trainer) => read();
        public void OnEpochEnd(EpochMetrics metrics) => read();
    }

    private static DataSplits Subset(DataSplits all) => new(all.Train.Take(256), all.Test.Take(200));

    /// <summary>What a technique's run gave: its model and the state it reports besides the weights (ranges, centroids, masks).</summary>
    private sealed record Outcome(Model Model, string Extra = "");

    /// <summary>The final attempt of an interrupted technique: what it gave, its notes and the epochs it trained.</summary>
    private sealed record Resumed(Outcome Outcome, List<string> Notes, int EpochsTrained);

    /// <summary>
    /// Runs <paramref name="technique"/> once in a session without a run directory, then in one with a run
    /// directory, cancelled after <paramref name="stops"/>[i] optimizer steps of attempt i and resumed after
    /// each; asserts that the final attempt ends with the same weights, bit for bit, and the same extra state.
    /// </summary>
    private static Resumed AssertResumesExactly(Func<TechniqueSession, Outcome> technique, params int[] stops)
    {
        var reference = technique(TechniqueSession.Quiet);
        using var dir = new TempDirectory();
        for (var attempt = 0; ; attempt++)
        {
            using var cancel = new CancellationTokenSource();
            var (steps, epochs, notes) = (0, 0, new List<string>());
            var stop = attempt < stops.Length ? stops[attempt] : int.MaxValue;
            var session = new TechniqueSession
            {
                RunDirectory = dir.File("run"), Resume = attempt > 0, Cancel = cancel.Token, Notes = notes.Add,
                Progress = _ =>
                {
                    if (++steps == stop) cancel.Cancel();
                },
                EpochEnd = _ => epochs++,
            };
            if (attempt < stops.Length)
            {
                var e = Assert.Throws<TrainingInterruptedException>(() => technique(session));
                Assert.True(File.Exists(e.CheckpointPath), $"attempt {attempt}: no checkpoint at {e.CheckpointPath}");
                continue;
            }
            var resumed = technique(session);
            AssertSameWeights(reference.Model, resumed.Model);
            Assert.Equal(reference.Extra, resumed.Extra);
            return new Resumed(resumed, notes, epochs);
        }
    }

    private static void AssertSameWeights(Model expected, Model actual)
    {
        var names = expected.Graph.Initializers.Select(v => v.Name).ToList();
        Assert.NotEmpty(names);
        Assert.Equal(names, actual.Graph.Initializers.Select(v => v.Name));
        foreach (var name in names)
            Assert.True(expected.Graph.FindInitializer(name)!.Const!.RawData.AsSpan().SequenceEqual(actual.Graph.FindInitializer(name)!.Const!.RawData),
                $"initializer '{name}' differs after resuming");
    }

    private static string Format(IEnumerable<double> values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static Model Run(Model model, params IPass[] passes) => new PassPipeline(passes).Run(model, new PassContext()).Model;

    [Fact]
    public void IterativePruningResumesInTheRoundItWasIn()
    {
        static Outcome Prune(TechniqueSession session)
        {
            var model = TrainerTests.SmallNet();
            for (var round = 1; round <= 2; round++)
            {
                model = Run(model, new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.3 * round }));
                var masks = PruningMasks.FromZeros(model);
                model = FineTuner.Run(model, Tuning, Inputs, session, $"round {round}/2 fine-tune", ex => new ITrainingHook[] { new MaskHook(ex, masks) },
                    Tuning.Seed + round).Model;
            }
            return new Outcome(model);
        }

        // Stopped in round 1's second epoch, then (after finishing round 1) in round 2's first epoch.
        var resumed = AssertResumesExactly(Prune, 5, 6);
        Assert.Equal(2, resumed.EpochsTrained); // round 1 was finished: its weights come from its checkpoint
        Assert.Contains(resumed.Notes, n => n.StartsWith("round 1/2 fine-tune: resuming from", StringComparison.Ordinal));
        Assert.Contains(resumed.Notes, n => n.StartsWith("round 2/2 fine-tune epoch 2/2:", StringComparison.Ordinal));
    }

    [Fact]
    public void SlimTrainingThenCutThenFineTuneResumes()
    {
        static Outcome Slim(TechniqueSession session)
        {
            var model = TrainerTests.SmallNet();
            model = FineTuner.Run(model, Tuning, Inputs, session, "slim sparsity training", ex => new ITrainingHook[] { new SlimHook(ex, model, 1e-3) }).Model;
            model = Run(model, new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethod.Slim, Sparsity = 0.5, ChannelMultiple = 1 }));
            return new Outcome(FineTuner.Run(model, Tuning, Inputs, session, "fine-tune").Model);
        }

        var resumed = AssertResumesExactly(Slim, 3, 7); // in the sparsity training; then 5 steps to finish it and 2 of the fine-tuning
        Assert.Equal(2, resumed.EpochsTrained);
    }

    [Fact]
    public void QuantizationAwareTrainingWithObservedRangesResumes()
    {
        var options = new QuantizationOptions { PerChannel = true };
        var folded = Run(TrainerTests.SmallNet(), new FoldConstantsPass(), new FoldBatchNormPass());
        var plan = new QuantizeStaticPass(options).Plan(folded);
        var ranges = Calibrator.Collect(folded, plan.CalibrationValues, CalibrationSet.From(Data.Train, 32), CalibrationMethod.MinMax);
        var fakeQuant = new QuantizeStaticPass(options, ranges) { ActivationsOnly = true }.Run(folded, new PassContext());
        var training = fakeQuant.Model;
        var quantizers = fakeQuant.Artifact<ActivationQuantizers>()!.Scales;
        var schemes = new QuantizeStaticPass(options).WeightSchemes(folded);
        Assert.NotEmpty(quantizers);

        Outcome Qat(TechniqueSession session)
        {
            ActivationRangeHook? observer = null;
            var tuned = FineTuner.Run(training, Tuning, Inputs, session, "qat", ex => new ITrainingHook[]
            {
                new WeightQatHook(ex, schemes),
                observer = new ActivationRangeHook(ex, quantizers.Select(a => (a.ScaleName, a.Lower, a.Upper))),
            });
            return new Outcome(tuned.Model, Format(observer!.Ranges.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => new[] { kv.Value.Min, kv.Value.Max })));
        }

        var resumed = AssertResumesExactly(Qat, 3, 3); // both stops mid-epoch: the moving ranges, master weights and moments are restored
        Assert.Equal(1, resumed.EpochsTrained); // the second epoch, from its third batch
        Assert.Contains(resumed.Outcome.Model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
    }

    [Fact]
    public void ClusterFineTuningResumesWithItsCentroids()
    {
        var clustered = Run(TrainerTests.SmallNet(), new ClusterPass(new ClusterOptions { Bits = 3 }));
        var weights = ClusterPass.ReadBits(clustered).Keys.ToList();
        Assert.NotEmpty(weights);

        Outcome Cluster(TechniqueSession session)
        {
            var masks = PruningMasks.FromZeros(clustered);
            var centroids = "";
            var tuned = FineTuner.Run(clustered, Tuning, Inputs, session, "centroid fine-tune", ex =>
            {
                var hook = new ClusterHook(ex, weights);
                return new ITrainingHook[] { new MaskHook(ex, masks), hook, new Capture(() => centroids = Format(hook.Centroids.SelectMany(c => c.Select(v => (double)v)))) };
            }).Model;
            return new Outcome(tuned, centroids);
        }

        AssertResumesExactly(Cluster, 2, 3);
    }

    [Fact]
    public void FactorizedFineTuningWithATeacherResumes()
    {
        var factorized = Run(TrainerTests.SmallNet(), new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.3 }));
        Assert.True(factorized.Graph.Nodes.Count > TrainerTests.SmallNet().Graph.Nodes.Count, "nothing was factorized");
        var inputs = Inputs with { Teacher = TrainerTests.SmallNet(seed: 5) };
        var tuning = Tuning with { Distillation = new DistillationOptions { Temperature = 2, Alpha = 0.7 } };

        var resumed = AssertResumesExactly(s => new Outcome(FineTuner.Run(factorized, tuning, inputs, s, "fine-tune").Model), 6);
        Assert.Contains(resumed.Notes, n => n.StartsWith("fine-tune: distilling from", StringComparison.Ordinal));
    }

    [Fact]
    public void DistillationWithHintsResumesTeacherAndStudent()
    {
        var tap = TrainerTests.SmallNet().Graph.Nodes.First(n => n.OpType == "MaxPool").Outputs[0]!.Name;
        var distillation = new DistillationOptions { Hints = new[] { new TensorPair(tap, tap) } }; // a live teacher and an adapter the optimizer trains
        var options = new TrainOptions { Epochs = 2, BatchSize = 64, Seed = 1, Optimizer = "adam", Hyper = new Shrink.Training.Optim.OptimizerOptions { LearningRate = 0.002 } };

        Outcome Distill(TechniqueSession session)
        {
            // As shrink distill does with a zoo teacher: the teacher trained first in its own run, then the student.
            using var teacher = GraphExecutor.Compile(TrainerTests.SmallNet(seed: 9));
            using (var t = new Trainer(teacher, TrainingSession.InSession(options, session, "teacher")))
                TrainingSession.Fit(t, Data.Train, Data.Test, session, "teacher");
            using var student = GraphExecutor.Compile(TrainerTests.SmallNet());
            using var hook = new DistillationHook(student, teacher.Export(), distillation, Data.Train, options.Seed);
            using var trainer = new Trainer(student, TrainingSession.InSession(options, session, "student") with { LabelLossWeight = hook.LabelLossWeight }, new[] { hook });
            TrainingSession.Fit(trainer, Data.Train, Data.Test, session, "student");
            var adapter = hook.Parameters.SelectMany(p => p.Tensor.data<float>().ToArray()).Select(v => (double)v);
            return new Outcome(student.Export(), Format(adapter));
        }

        var resumed = AssertResumesExactly(Distill, 6, 5); // in the teacher's second epoch; then in the student's first
        Assert.Equal(2, resumed.EpochsTrained);
    }

    [Fact]
    public void GradualPruningResumesWithTheMasksOfItsLastUpdate()
    {
        var options = new UnstructuredPruneOptions { Sparsity = 0.6 };

        static string MaskBits(PruningMasks masks) => string.Concat(masks.Keep.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value).Select(k => k ? '1' : '0'));

        Outcome Agp(TechniqueSession session)
        {
            var masks = "";
            // 8 steps, a ramp of 6 with masks updated every 3 steps: a stop at step 4 must restore the masks of step 3.
            var tuned = FineTuner.Run(TrainerTests.SmallNet(), Tuning, Inputs, session, "agp", ex =>
            {
                var hook = new AgpHook(ex, options, 8, updates: 2);
                return new ITrainingHook[] { hook, new Capture(() => masks = MaskBits(hook.Masks())) };
            });
            Assert.NotEmpty(masks);
            return new Outcome(tuned.Model, masks);
        }

        AssertResumesExactly(Agp, 4);
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void AdamAndAdamWResumeWithTheirMoments(string optimizer)
    {
        var options = new TrainOptions
        {
            Epochs = 2, BatchSize = 64, Seed = 4, Optimizer = optimizer, EvaluateEachEpoch = false,
            Hyper = new Shrink.Training.Optim.OptimizerOptions { LearningRate = 0.003, WeightDecay = 0.01 },
        };
        using var reference = GraphExecutor.Compile(TrainerTests.SmallNet());
        using var uninterrupted = new Trainer(reference, options);
        uninterrupted.Fit(Data.Train);

        using var dir = new TempDirectory();
        foreach (var (stop, resume) in new[] { (3L, false), (long.MaxValue, true) })
        {
            using var ex = GraphExecutor.Compile(TrainerTests.SmallNet());
            using var cancel = new CancellationTokenSource();
            using var t = new Trainer(ex, options with { RunDirectory = dir.Path, Resume = resume }, new[] { new CancelAfter(cancel, stop) });
            if (stop != long.MaxValue)
            {
                Assert.Throws<TrainingInterruptedException>(() => t.Fit(Data.Train, cancel: cancel.Token));
                continue;
            }
            t.Fit(Data.Train, cancel: cancel.Token);
            AssertSameWeights(reference.Export(), ex.Export());
            Assert.Equal(uninterrupted.Optimizer.Steps, t.Optimizer.Steps);
            Assert.Equal(uninterrupted.Optimizer.State.Keys.Order(), t.Optimizer.State.Keys.Order());
            Assert.NotEmpty(t.Optimizer.State);
            foreach (var (name, moment) in uninterrupted.Optimizer.State)
                Assert.True(moment.data<float>().ToArray().SequenceEqual(t.Optimizer.State[name].data<float>().ToArray()), $"moment '{name}' differs after resuming");
        }
    }

    [Fact]
    public void ResumingWithOtherHookSettingsOrEpochsIsRefusedWithOneLine()
    {
        using var dir = new TempDirectory();
        var session = new TechniqueSession { RunDirectory = dir.Path };
        FineTuner.Run(TrainerTests.SmallNet(), Tuning, Inputs, session, "agp", ex => new ITrainingHook[] { new AgpHook(ex, new UnstructuredPruneOptions { Sparsity = 0.5 }, 8) });

        var resume = new TechniqueSession { RunDirectory = dir.Path, Resume = true };
        var sparser = Assert.Throws<OptionsException>(() =>
            FineTuner.Run(TrainerTests.SmallNet(), Tuning, Inputs, resume, "agp", ex => new ITrainingHook[] { new AgpHook(ex, new UnstructuredPruneOptions { Sparsity = 0.8 }, 8) }));
        Assert.Contains("was made with agp.sparsity 0.5 (now 0.8); resume with the same options or use a new run directory", sparser.Message);
        Assert.DoesNotContain("\n", sparser.Message);
        var longer = Assert.Throws<OptionsException>(() =>
            FineTuner.Run(TrainerTests.SmallNet(), Tuning with { Epochs = 3 }, Inputs, new TechniqueSession { RunDirectory = dir.Path, Resume = true }, "agp",
                ex => new ITrainingHook[] { new AgpHook(ex, new UnstructuredPruneOptions { Sparsity = 0.5 }, 8) }));
        Assert.Contains("epochs 2 (now 3)", longer.Message);
        var other = Assert.Throws<OptionsException>(() =>
            FineTuner.Run(TrainerTests.SmallNet(seed: 2), Tuning, Inputs, new TechniqueSession { RunDirectory = dir.Path, Resume = true }, "agp",
                ex => new ITrainingHook[] { new AgpHook(ex, new UnstructuredPruneOptions { Sparsity = 0.5 }, 8) }));
        Assert.Contains("was made for a different model", other.Message);
    }

    [Fact]
    public void EachRunOfASessionNeedsItsOwnLabel()
    {
        var session = new TechniqueSession();
        var tuning = Tuning with { Epochs = 1 };
        FineTuner.Run(TrainerTests.SmallNet(), tuning, Inputs, session, "round 1 fine-tune");
        var e = Assert.Throws<ArgumentException>(() => FineTuner.Run(TrainerTests.SmallNet(), tuning, Inputs, session, "Round 1: fine-tune"));
        Assert.Contains("already ran as 'round-1-fine-tune'", e.Message);
    }

    [Theory]
    [InlineData("round 2/3 fine-tune", "round-2-3-fine-tune")]
    [InlineData("slim sparsity training", "slim-sparsity-training")]
    [InlineData("  QAT ", "qat")]
    [InlineData("centroid fine-tune", "centroid-fine-tune")]
    public void RunLabelsNameTheirDirectories(string label, string expected) => Assert.Equal(expected, TrainingSession.DirectoryName(label));

    [Fact]
    public void ALabelWithoutLettersOrDigitsIsRefused() =>
        Assert.Throws<ArgumentException>(() => TrainingSession.DirectoryName("/ -"));

    [Fact]
    public void RemovingARunKeepsWhatTrainingDidNotWrite()
    {
        using var dir = new TempDirectory();
        var run = dir.File("m.run");
        FineTuner.Run(TrainerTests.SmallNet(), Tuning with { Epochs = 1 }, Inputs, new TechniqueSession { RunDirectory = run }, "fine-tune");
        Assert.True(TrainingSession.HoldsRun(run));
        Assert.True(File.Exists(Path.Combine(run, "fine-tune", "checkpoint.bin")));
        Directory.CreateDirectory(Path.Combine(run, "mine"));
        File.WriteAllText(Path.Combine(run, "mine", "notes.txt"), "keep");

        TrainingSession.Remove(run);

        Assert.False(TrainingSession.HoldsRun(run));
        Assert.False(Directory.Exists(Path.Combine(run, "fine-tune")));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(run, "mine", "notes.txt")));
    }
}
