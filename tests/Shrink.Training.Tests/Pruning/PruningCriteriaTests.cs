using Shrink.Data;
using Shrink.Passes.Pruning;
using Xunit;

namespace Shrink.Training.Tests.Pruning;

/// <summary>Taylor saliency (weights) and its pruning.</summary>
[Collection("torch")]
public class TaylorSaliencyTests
{
    [Fact]
    public void SaliencyIsZeroForZeroWeightsAndDrivesTaylorPruning()
    {
        // The pass returns the pruned model (its input stays dense): the saliency is measured on the pruned one.
        var model = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.3 }).Run(Shrink.Zoo.ModelZoo.Create("lenet300", seed: 1), new Shrink.Passes.PassContext()).Model;
        var data = Shrink.Data.FashionMnist.LoadEmbedded().Train;
        var scores = Shrink.Training.Pruning.TaylorSaliency.Measure(model, data, batches: 4, batchSize: 64);
        var weights = PrunableWeights.Find(model);
        Assert.Equal(weights.Select(w => w.Weight.Name).Order(), scores.Keys.Order());
        foreach (var w in weights)
        {
            var values = w.Tensor.AsFloats().ToArray();
            var s = scores[w.Weight.Name];
            Assert.NotEmpty(s);
            Assert.All(s, v => Assert.True(v >= 0));
            var zeros = Enumerable.Range(0, values.Length).Where(i => values[i] == 0).ToList();
            Assert.NotEmpty(zeros);  // 30% of each layer was pruned
            Assert.All(zeros, i => Assert.Equal(0f, s[i]));
            Assert.Contains(s, v => v > 0);
        }
        // Taylor pruning removes exactly the lowest-saliency weights.
        var pass = new UnstructuredPrunePass(new UnstructuredPruneOptions { Method = PruneMethod.Taylor, Sparsity = 0.6, Scores = scores });
        var masks = pass.Run(model, new Shrink.Passes.PassContext()).Artifact<PruningMasks>()!;
        foreach (var w in PrunableWeights.Find(model))
        {
            var keep = masks.Keep[w.Weight.Name];
            var s = scores[w.Weight.Name];
            Assert.True(s.Where((_, i) => !keep[i]).Max() <= s.Where((_, i) => keep[i]).Min());
        }
    }
}

/// <summary>Gradual (AGP) pruning during training.</summary>
[Collection("torch")]
public class AgpTests
{
    [Fact]
    public void GradualPruningFollowsTheCubicRampAndEndsAtTheTarget()
    {
        var data = Shrink.Data.FashionMnist.LoadEmbedded();
        using var ex = Shrink.Training.Execution.GraphExecutor.Compile(Shrink.Zoo.ModelZoo.Create("lenet300"));
        var options = new UnstructuredPruneOptions { Sparsity = 0.8 };
        var train = data.Train.Take(1280);
        using var hook = new Shrink.Training.Pruning.AgpHook(ex, options, totalSteps: 2 * 10, updates: 5);
        Assert.Equal(0.0, hook.SparsityAt(0, 0.8), 12);
        Assert.Equal(0.8 * (1 - Math.Pow(1 - 5.0 / 15, 3)), hook.SparsityAt(5, 0.8), 12);
        Assert.Equal(0.8, hook.SparsityAt(15, 0.8), 12);
        Assert.Equal(0.8, hook.SparsityAt(19, 0.8), 12);
        var seen = new List<double>();
        using var trainer = new Shrink.Training.Trainer(ex, new Shrink.Training.TrainOptions { Epochs = 2, BatchSize = 128, EvaluateEachEpoch = false }, new[] { hook });
        trainer.EpochEnd += _ => seen.Add(hook.Masks().Keep.Values.Sum(k => k.Count(x => !x)) / (double)hook.Masks().Keep.Values.Sum(k => k.Length));
        trainer.Fit(train);
        Assert.True(seen[0] is > 0.5 and < 0.8, $"after epoch 1: {seen[0]}");
        Assert.Equal(0.8, seen[1], 3);
        foreach (var w in PrunableWeights.Find(ex.Export()))
        {
            var zeros = w.Tensor.AsFloats().ToArray().Count(v => v == 0) / (double)w.Tensor.ElementCount;
            Assert.Equal(0.8, zeros, 2);
        }
    }
}

/// <summary>The data-driven channel criteria the executor measures: Taylor.</summary>
[Collection("torch")]
public class ChannelCriteriaTests
{
    [Fact]
    public void TaylorChannelScoresAreZeroForADeadChannel()
    {
        Shrink.Training.TorchRuntime.EnsureInitialized();
        var data = Shrink.Data.FashionMnist.LoadEmbedded().Train;
        var scores = Shrink.Training.Pruning.TaylorSaliency.MeasureChannels(TestModels.WithDeadChannels(), data, batches: 2, batchSize: 64)["conv1"];
        Assert.Equal(0, scores[0], 12); // dead after ReLU: no gradient reaches its filter
        Assert.True(scores.Skip(2).Count(v => v > 0) >= 5);
    }
}
