using System.Diagnostics;
using Shrink.Builder;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Training.Optim;
using Shrink.Zoo;
using TorchSharp;
using Xunit;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Tests;

/// <summary>Torch tests share one collection: the dropout generator is process-wide, so seeded runs must not interleave.</summary>
[Collection("torch")]
public class TrainerTests
{
    private static readonly DataSplits Embedded = FashionMnist.LoadEmbedded();

    /// <summary>A small network with every stateful piece: convolution, BatchNorm statistics, dropout randomness.</summary>
    internal static Model SmallNet(int seed = 0)
    {
        var b = new NetworkBuilder("small", seed);
        var x = b.Input("input", 1, 28, 28);
        x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 4, 3, padding: 1, bias: false))), 2, 2);
        x = b.Dropout(b.Relu(b.Linear(b.Flatten(x), 32)), 0.3f);
        b.Output(b.Linear(x, 10), "output");
        return b.Build();
    }

    private static float[][] Weights(GraphExecutor ex) => ex.Parameters.Select(p => p.Tensor.data<float>().ToArray()).ToArray();

    [Fact]
    public void InterruptedAndResumedRunEndsInTheSameWeights()
    {
        using var dir = new TempDirectory();
        var train = Embedded.Train.Take(600);
        var options = new TrainOptions { Epochs = 2, BatchSize = 64, Seed = 7, Hyper = new OptimizerOptions { LearningRate = 0.05 }, EvaluateEachEpoch = false };

        using var reference = GraphExecutor.Compile(SmallNet());
        using (var t = new Trainer(reference, options)) t.Fit(train);

        // Interrupt in the middle of the first epoch, resume, interrupt again in the second, resume to the end.
        var run = options with { RunDirectory = dir.Path };
        foreach (var (stopAt, resume) in new[] { (4L, false), (13L, true), (long.MaxValue, true) })
        {
            using var ex = GraphExecutor.Compile(SmallNet());
            using var cts = new CancellationTokenSource();
            using var t = new Trainer(ex, run with { Resume = resume }, new[] { new CancelAfter(cts, stopAt) });
            if (stopAt == long.MaxValue)
            {
                t.Fit(train, cancel: cts.Token);
                Assert.Equal(2, t.History.Count);
                var expected = Weights(reference);
                var actual = Weights(ex);
                for (var i = 0; i < expected.Length; i++)
                    Assert.True(expected[i].SequenceEqual(actual[i]), $"parameter {ex.Parameters[i].Name} differs after resuming");
            }
            else
                Assert.Throws<TrainingInterruptedException>(() => t.Fit(train, cancel: cts.Token));
            Assert.True(File.Exists(Checkpoint.PathIn(dir.Path)));
        }
    }

    /// <summary>
    /// Training survives constant garbage collections on another thread. TorchSharp leaves implicitly
    /// converted Scalars to the finalizer; before every scalar operand was made explicit this crashed
    /// within a few hundred steps ("Unknown scalar type" / a failed check in c10::Scalar).
    /// </summary>
    [Fact]
    public void TrainingSurvivesGarbageCollectionPressure()
    {
        using var stop = new CancellationTokenSource();
        var pressure = new Thread(() =>
        {
            // About a thousand young-generation collections a second, each finalizing what the step left behind.
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                GC.KeepAlive(new byte[4096]);
                if (++n % 1000 != 0) continue;
                GC.Collect(0);
                Thread.Sleep(1);
            }
        }) { IsBackground = true };
        pressure.Start();
        try
        {
            foreach (var optimizer in new[] { "sgd", "adam" })
            {
                using var ex = GraphExecutor.Compile(ModelZoo.Create("lenet300"));
                using var t = new Trainer(ex, new TrainOptions
                {
                    Epochs = 1, BatchSize = 16, Optimizer = optimizer, EvaluateEachEpoch = false,
                    Hyper = new OptimizerOptions { LearningRate = optimizer == "sgd" ? 0.01 : 0.001, WeightDecay = 1e-4, Nesterov = optimizer == "sgd" },
                });
                Assert.Single(t.Fit(Embedded.Train.Take(1600)));
            }
        }
        finally
        {
            stop.Cancel();
            pressure.Join();
        }
    }

    [Fact]
    public void ResumeWithOtherOptionsIsRefused()
    {
        using var dir = new TempDirectory();
        var train = Embedded.Train.Take(128);
        var options = new TrainOptions { Epochs = 1, BatchSize = 64, RunDirectory = dir.Path, EvaluateEachEpoch = false };
        using (var ex = GraphExecutor.Compile(SmallNet()))
        using (var t = new Trainer(ex, options))
            t.Fit(train);
        using var again = GraphExecutor.Compile(SmallNet());
        using var changed = new Trainer(again, options with { Resume = true, Hyper = new OptimizerOptions { LearningRate = 0.5 } });
        var e = Assert.Throws<OptionsException>(() => changed.Fit(train));
        Assert.Contains("was made with lr 0.01 (now 0.5); resume with the same options", e.Message);
        using var fewer = GraphExecutor.Compile(SmallNet());
        using var otherData = new Trainer(fewer, options with { Resume = true });
        Assert.Contains("128 samples (now", Assert.Throws<OptionsException>(() => otherData.Fit(train.Take(64))).Message);
        using var other = GraphExecutor.Compile(SmallNet(seed: 1));
        using var otherModel = new Trainer(other, options with { Resume = true });
        Assert.Contains("different model", Assert.Throws<OptionsException>(() => otherModel.Fit(train)).Message);
    }

    [Fact]
    public void DamagedCheckpointGetsAClearError()
    {
        using var dir = new TempDirectory();
        var train = Embedded.Train.Take(64);
        var options = new TrainOptions { Epochs = 1, BatchSize = 64, RunDirectory = dir.Path, EvaluateEachEpoch = false };
        using (var ex = GraphExecutor.Compile(SmallNet()))
        using (var t = new Trainer(ex, options))
            t.Fit(train);
        var path = Checkpoint.PathIn(dir.Path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        using var again = GraphExecutor.Compile(SmallNet());
        using var resumed = new Trainer(again, options with { Resume = true });
        Assert.Contains("is corrupt (checksum mismatch", Assert.Throws<CheckpointException>(() => resumed.Fit(train)).Message);
    }

    [Fact]
    public void TrainingLearnsAndExportMatchesOnnxRuntime()
    {
        using var ex = GraphExecutor.Compile(ModelZoo.Create("lenet300"));
        using var t = new Trainer(ex, new TrainOptions { Epochs = 2, BatchSize = 64, Hyper = new OptimizerOptions { LearningRate = 0.05 } });
        var history = t.Fit(Embedded.Train, Embedded.Test);
        Assert.True(history[^1].TestAccuracy > 0.70, $"test accuracy {history[^1].TestAccuracy:P1} after 2 epochs");
        var executorAccuracy = t.Evaluate(Embedded.Test).Accuracy;
        using var runner = Shrink.Runtime.OnnxRunner.FromModel(ex.Export());
        Assert.Equal(executorAccuracy, runner.Evaluate(Embedded.Test, 250).Accuracy, 3);
    }

    private sealed class MaskHook : ITrainingHook
    {
        public Tensor? Mask;
        public int ExtraCalls;
        public void OnTrainStart(Trainer trainer)
        {
            var w = trainer.Executor.Parameters.First(p => p.Tensor.dim() == 2).Tensor;
            Mask = torch.rand_like(w).gt(0.5).to(w.dtype).DetachFromDisposeScope();
            using (torch.no_grad()) w.mul_(Mask);
        }
        private readonly Scalar _weight = 1e-3.ToScalar();
        public Tensor? ExtraLoss(TrainStep step)
        {
            ExtraCalls++;
            return step.Logits.square().mean().mul(_weight);
        }
        public void AfterStep(TrainStep step) => step.Executor.Parameters.First(p => p.Tensor.dim() == 2).Tensor.mul_(Mask!);
    }

    [Fact]
    public void HooksAddLossAndKeepMaskedWeightsExactlyZeroThroughMomentumAndDecay()
    {
        using var ex = GraphExecutor.Compile(ModelZoo.Create("lenet300"));
        var hook = new MaskHook();
        var options = new TrainOptions { Epochs = 1, BatchSize = 100, EvaluateEachEpoch = false, Hyper = new OptimizerOptions { WeightDecay = 1e-3, Nesterov = true } };
        using var t = new Trainer(ex, options, new[] { hook });
        t.Fit(Embedded.Train.Take(1000));
        Assert.Equal(10, hook.ExtraCalls);
        var w = ex.Parameters.First(p => p.Tensor.dim() == 2);
        var zeros = w.Tensor.eq(0).sum().item<long>();
        var masked = hook.Mask!.eq(0).sum().item<long>();
        Assert.Equal(masked, zeros);
        var exported = ex.Export().Graph.FindInitializer(w.Name)!.Const!.AsFloats().ToArray();
        Assert.Equal(masked, exported.LongCount(v => v == 0));
    }

    /// <summary>A rewrite that puts a Relu behind the output, the way fake quantization wraps tensors.</summary>
    private sealed class ReluOnOutput : Shrink.Passes.IPass
    {
        public string Id => "relu-on-output";
        public Shrink.Passes.PassResult Run(Model model, Shrink.Passes.PassContext context)
        {
            var g = model.Graph;
            var old = g.Outputs[0];
            var node = g.AddNode(new Node("Relu"));
            node.AddInput(old);
            var y = node.AddOutput(new Value(g.UniqueName("clamped"), DataType.Float, old.Shape))!;
            g.Outputs[0] = y;
            return new Shrink.Passes.PassResult(model, true, new Dictionary<string, long>());
        }
    }

    [Fact]
    public void PrepareAppliesRewritesToACopyBeforeCompiling()
    {
        var model = ModelZoo.Create("lenet300");
        var nodes = model.Graph.Nodes.Count;
        using var ex = Trainer.Prepare(model, new[] { new ReluOnOutput() });
        Assert.Equal(nodes, model.Graph.Nodes.Count);
        using var scope = torch.NewDisposeScope();
        var y = ex.Forward(torch.randn(8, 1, 28, 28))[0];
        Assert.Equal(0, y.lt(0).sum().item<long>());
        Assert.Equal(nodes + 1, ex.Model.Graph.Nodes.Count);
    }

    [Theory]
    [InlineData("sgd", false, 0.0)]
    [InlineData("sgd", true, 0.01)]
    [InlineData("adam", false, 0.01)]
    [InlineData("adamw", false, 0.01)]
    public void OptimizersMatchTorchSharpReference(string name, bool nesterov, double decay)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var ours = new TorchSharp.Modules.Parameter(torch.randn(5, 4));
        var theirs = new TorchSharp.Modules.Parameter(ours.detach().clone());
        var o = new OptimizerOptions { LearningRate = 0.1, Momentum = 0.9, Nesterov = nesterov, WeightDecay = decay };
        using var mine = Optimizer.Create(name, new[] { ("w", ours) }, o);
        var reference = name switch
        {
            "sgd" => (torch.optim.Optimizer)torch.optim.SGD(new[] { theirs }, 0.1, 0.9, 0, decay, nesterov),
            "adam" => torch.optim.Adam(new[] { theirs }, 0.1, weight_decay: decay),
            _ => torch.optim.AdamW(new[] { theirs }, 0.1, weight_decay: decay),
        };
        for (var step = 0; step < 5; step++)
        {
            var target = torch.randn(5, 4);
            foreach (var (p, opt) in new (TorchSharp.Modules.Parameter, Action)[] { (ours, mine.Step), (theirs, () => reference.step()) })
            {
                if (p.grad is { } g) g.zero_();
                p.sub(target).square().sum().backward();
                opt();
            }
        }
        Assert.True(ours.allclose(theirs, rtol: 1e-5, atol: 1e-6), $"{name}: {ours.sub(theirs).abs().max().item<float>()}");
    }

    [Fact]
    public void SchedulesFollowTheirFormulas()
    {
        var cosine = new LearningRateSchedule { Kind = "cosine" };
        Assert.Equal(0.1, cosine.RateAt(0.1, 0, 10, 5), 12);
        Assert.Equal(0.05, cosine.RateAt(0.1, 25, 10, 5), 12);
        Assert.Equal(0.0, cosine.RateAt(0.1, 50, 10, 5), 12);
        var step = new LearningRateSchedule { Kind = "step", StepEpochs = 2, Gamma = 0.5 };
        Assert.Equal(0.1, step.RateAt(0.1, 19, 10, 6), 12);
        Assert.Equal(0.05, step.RateAt(0.1, 20, 10, 6), 12);
        Assert.Equal(0.025, step.RateAt(0.1, 45, 10, 6), 12);
        var warm = new LearningRateSchedule { Kind = "cosine", WarmupEpochs = 1 };
        Assert.Equal(0.01, warm.RateAt(0.1, 0, 10, 5), 12);
        Assert.Equal(0.1, warm.RateAt(0.1, 9, 10, 5), 12);
        Assert.Equal(0.1, warm.RateAt(0.1, 10, 10, 5), 12);
        Assert.Throws<OptionsException>(() => new LearningRateSchedule { Kind = "linear" }.Validate(5));
        Assert.Throws<OptionsException>(() => new LearningRateSchedule { WarmupEpochs = 5 }.Validate(5));
    }

    [Fact]
    public void LoaderOrderIsSeededPerEpochAndCoversEverySample()
    {
        var loader = new BatchLoader(Embedded.Train.Take(500), 64, seed: 3);
        Assert.Equal(8, loader.Batches);
        Assert.Equal(loader.Order(2), new BatchLoader(Embedded.Train.Take(500), 64, seed: 3).Order(2));
        Assert.NotEqual(loader.Order(1), loader.Order(2));
        Assert.NotEqual(loader.Order(1), new BatchLoader(Embedded.Train.Take(500), 64, seed: 4).Order(1));
        Assert.Equal(Enumerable.Range(0, 500), loader.Order(0).Order());
        using var scope = torch.NewDisposeScope();
        var data = Embedded.Train.Take(500);
        using var ex = GraphExecutor.Compile(ModelZoo.Create("lenet5"));
        var (samples, x, y) = loader.Get(loader.Order(0), 7, DataBinding.For(ex.Inputs, data));
        Assert.Equal(500 - 7 * 64, samples.Length);
        Assert.Equal(new long[] { samples.Length, 1, 28, 28 }, Assert.Single(x).shape);
        Assert.Equal(data.Read(samples).Labels![0], y![0].item<long>());
        Assert.Equal((float[])data.Read(samples).Inputs[0].Data, x[0].data<float>().ToArray());
    }

    /// <summary>Three epochs on the embedded subset: after the first, resident memory grows by less than 50 MB (no tensor leaks).</summary>
    [Fact]
    public void TrainingDoesNotLeakTensors()
    {
        var data = FashionMnist.LoadEmbedded();
        using var ex = GraphExecutor.Compile(ModelZoo.Create("lenet5"));
        using var trainer = new Trainer(ex, new TrainOptions { Epochs = 3, BatchSize = 128 });
        var rss = new List<long>();
        trainer.EpochEnd += _ =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var p = Process.GetCurrentProcess();
            p.Refresh();
            rss.Add(p.WorkingSet64);
        };
        trainer.Fit(data.Train, data.Test);
        var growth = (rss[2] - rss[0]) / 1e6;
        Assert.True(growth < 50, $"resident memory grew by {growth:F1} MB from epoch 1 to epoch 3 ({string.Join(", ", rss.Select(b => $"{b / 1e6:F0} MB"))})");
    }
}
