using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Techniques;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Factorization;
using Shrink.Training.FineTuning;
using Shrink.Training.Sharing;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>cluster, factorize and distill as library techniques: registered by id, typed options with the CLI's defaults, typed artifacts, the input untouched.</summary>
[Collection("torch")]
public class TrainingTechniquesTests
{
    private static readonly DataSplits Small = new(FashionMnist.LoadEmbedded().Train.Take(512), FashionMnist.LoadEmbedded().Test.Take(256));

    private static Model Pruned(string zoo, double sparsity)
    {
        var model = ModelZoo.Create(zoo, seed: 3);
        return new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = sparsity, Scope = PruneScope.Global }).Run(model, new PassContext()).Model;
    }

    [Fact]
    public void TheRegistryResolvesEachIdToItsTechnique_WithTheCommandsDefaults()
    {
        TrainingTechniques.Register();
        TrainingTechniques.Register();  // again: harmless

        Assert.IsType<ClusterTechnique>(TechniqueRegistry.Find("cluster"));
        Assert.IsType<FactorizeTechnique>(TechniqueRegistry.Find("factorize"));
        Assert.IsType<DistillTechnique>(TechniqueRegistry.Find("distill"));
        var cluster = (ClusterTechniqueOptions)Activator.CreateInstance(TechniqueRegistry.Find("cluster").OptionsType)!;
        Assert.Equal((5, CentroidInit.Linear, 0, 0.001, 128), (cluster.Sharing.Bits, cluster.Sharing.Init, cluster.FineTune.Epochs, cluster.FineTune.LearningRate, cluster.FineTune.Batch));
        var factorize = new FactorizeTechniqueOptions();
        Assert.Equal((0.9, (double?)null, 0, 0.01), (factorize.LowRank.Energy, factorize.LowRank.Ratio, factorize.FineTune.Epochs, factorize.FineTune.LearningRate));
        var distill = new DistillTechniqueOptions();
        Assert.Equal((4.0, 0.9, true, (int?)null), (distill.Distillation.Temperature, distill.Distillation.Alpha, distill.Distillation.CacheLogits, distill.TeacherEpochs));
    }

    [Fact]
    public void Cluster_ReturnsTheCodebooks_AndLeavesItsInputAlone()
    {
        var model = Pruned("lenet300", 0.8);
        var before = OnnxWriter.ToBytes(model);

        var result = new ClusterTechnique().Run(model, new ClusterTechniqueOptions { Sharing = new ClusterOptions { Bits = 3 } }, TechniqueInputs.None, TechniqueSession.Quiet);

        Assert.Equal(before, OnnxWriter.ToBytes(model));
        var codebooks = result.Artifact<Codebooks>()!;
        Assert.Equal(3, codebooks.Weights.Count);
        foreach (var (weight, c) in codebooks.Weights)
        {
            var values = result.Model.Graph.FindInitializer(weight)!.Const!.AsFloats().ToArray();
            Assert.Equal(3, c.Bits);
            Assert.InRange(c.Centroids.Length, 2, 8);
            Assert.Equal(values.Where(v => v != 0).Distinct().Order(), c.Centroids);
        }
        var back = Artifacts.FromJson<Codebooks>(Artifacts.ToJson(codebooks));
        Assert.Equal(codebooks.Weights.Select(w => (w.Key, w.Value.Bits, string.Join(",", w.Value.Centroids))), back.Weights.Select(w => (w.Key, w.Value.Bits, string.Join(",", w.Value.Centroids))));
        Assert.Contains("\"kind\": \"codebooks\"", Artifacts.ToJson(codebooks));
    }

    [Fact]
    public void Cluster_WithFineTuning_KeepsTheClustersTiedAndTheZerosZero()
    {
        var model = Pruned("lenet300", 0.8);
        var options = new ClusterTechniqueOptions { Sharing = new ClusterOptions { Bits = 3 }, FineTune = new FineTuneOptions { Epochs = 1, LearningRate = 0.01 } };

        var result = new ClusterTechnique().Run(model, options, new TechniqueInputs { Data = Small }, TechniqueSession.Quiet);

        var clustered = new ClusterTechnique().Run(model, options with { FineTune = new FineTuneOptions() }, TechniqueInputs.None, TechniqueSession.Quiet);
        var tuned = result.Artifact<Codebooks>()!.Weights;
        Assert.Equal(3, tuned.Count);
        foreach (var (weight, c) in clustered.Artifact<Codebooks>()!.Weights)
        {
            Assert.InRange(tuned[weight].Centroids.Length, 2, 8);  // still at most 2^bits shared values
            Assert.NotEqual(c.Centroids, tuned[weight].Centroids);  // the centroids moved
            long NonZero(Model m) => m.Graph.FindInitializer(weight)!.Const!.AsFloats().ToArray().LongCount(v => v != 0);
            Assert.Equal(NonZero(clustered.Model), NonZero(result.Model));  // no pruned weight revived
        }
        Assert.Equal(ClusterPass.ReadBits(clustered.Model), ClusterPass.ReadBits(result.Model));  // the metadata survives the fine-tuning
        Assert.Throws<OptionsException>(() => new ClusterTechnique().Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet));  // fine-tuning needs data
    }

    [Fact]
    public void Factorize_ReturnsTheRanks_AndRefusesWhenNoLayerGetsSmaller()
    {
        var model = ModelZoo.Create("lenet300", seed: 3);
        var before = OnnxWriter.ToBytes(model);

        var result = new FactorizeTechnique().Run(model, new FactorizeTechniqueOptions { LowRank = new LowRankOptions { Energy = null, Ratio = 0.3 } },
            TechniqueInputs.None, TechniqueSession.Quiet);

        Assert.Equal(before, OnnxWriter.ToBytes(model));
        var ranks = result.Artifact<FactorizationRanks>()!;
        // ⌊0.3·m·n/(m + n)⌋ for gemm1 [784, 300] and gemm2 [300, 100]; gemm3, the classifier, is left alone.
        Assert.Equal(new[] { ("gemm1", new LayerRank(65, 300)), ("gemm2", new LayerRank(22, 100)) }, ranks.Layers.Select(kv => (kv.Key, kv.Value)));
        Assert.Contains(result.Notes, n => n.Contains("'gemm3' left alone") && !n.Contains("--"));
        Assert.Equal(ranks.Layers, Artifacts.FromJson<FactorizationRanks>(Artifacts.ToJson(ranks)).Layers);

        var e = Assert.Throws<OptionsException>(() => new FactorizeTechnique().Run(model, new FactorizeTechniqueOptions { LowRank = new LowRankOptions { Energy = 1 } },
            TechniqueInputs.None, TechniqueSession.Quiet));
        Assert.StartsWith("no layer was factorized: ", e.Message);
        Assert.DoesNotContain("--", e.Message);
    }

    [Fact]
    public void Distill_TrainsTheTeacherFirstWhenAsked_AndTrainsACopyOfTheStudent()
    {
        var student = ModelZoo.Create("lenet300", seed: 1);
        var before = OnnxWriter.ToBytes(student);
        var options = new DistillTechniqueOptions { Training = new TrainOptions { Epochs = 1, BatchSize = 64, Seed = 2 }, TeacherEpochs = 1 };
        var epochs = new List<TechniqueEpoch>();
        var session = new TechniqueSession { EpochEnd = epochs.Add };

        var technique = new DistillTechnique();
        Assert.Equal(2, technique.Check(student, options, TechniqueInputs.None).Count);  // no teacher, no data
        var result = technique.Run(student, options, new TechniqueInputs { Data = Small, Teacher = ModelZoo.Create("lenet300", seed: 2), TeacherSource = "lenet300" }, session);

        Assert.Equal(before, OnnxWriter.ToBytes(student));
        Assert.NotEqual(before, OnnxWriter.ToBytes(result.Model));
        Assert.Equal(new[] { ("teacher", 1), ("", 1) }, epochs.Select(e => (e.Label, e.Epoch)));  // the student is the technique's own training
        Assert.Equal("from lenet300: T 4 alpha 0.9, 1 epochs seed 2", result.Model.Metadata.First(kv => kv.Key == "shrink.distilled").Value);
        Assert.StartsWith("distilled from lenet300: executor test accuracy ", Assert.Single(result.Notes));
    }

    [Fact]
    public void LibraryMessages_NameTheOptionsProperties_NotCommandLineFlags()
    {
        var bits = Assert.Throws<OptionsException>(() => new ClusterOptions { Bits = 9 }.Validate());
        Assert.Equal(("Bits", "bits 9 is out of range; use 1 to 8 bits (2 to 256 shared values)"), (bits.Option, bits.Message));
        var energy = Assert.Throws<OptionsException>(() => new LowRankOptions { Energy = 1.5 }.Validate());
        Assert.Equal(("Energy", "energy must be in (0, 1], got 1.5"), (energy.Option, energy.Message));
        var temperature = Assert.Throws<OptionsException>(() => new DistillationOptions { Temperature = 0 }.Validate());
        Assert.Equal(("Temperature", "temperature must be positive, got 0"), (temperature.Option, temperature.Message));
        Assert.Equal("HintWeight", Assert.Throws<OptionsException>(() => new DistillationOptions { HintWeight = -1 }.Validate()).Option);
        Assert.Equal("TeacherEpochs", Assert.Throws<OptionsException>(() => new DistillTechniqueOptions { TeacherEpochs = 0 }.Validate()).Option);
        Assert.DoesNotContain("--", Assert.Throws<OptionsException>(() => new LowRankOptions { Energy = null }.Validate()).Message);
        var batch = Assert.Throws<OptionsException>(() => new TrainOptions { BatchSize = 0 }.Validate());
        Assert.Equal(("BatchSize", "batch size must be at least 1, got 0"), (batch.Option, batch.Message));
        Assert.DoesNotContain("--", Assert.Throws<OptionsException>(() => new TrainOptions { Schedule = new() { Kind = "linear" } }.Validate()).Message);
        Assert.DoesNotContain("--", Assert.Throws<OptionsException>(() => new TrainOptions { Resume = true }.Validate()).Message);
    }

    [Fact]
    public void ClusterAndFactorize_RunAsRecipeStages_WithNestedOptions()
    {
        TrainingTechniques.Register();
        using var dir = new TempDirectory();
        var recipe = Shrink.Recipes.Recipe.Parse("""
            version: 1
            model:
              zoo: lenet300
            stages:
              - technique: factorize
                options:
                  low-rank:
                    energy: ~
                    ratio: 0.3
              - technique: cluster
                options:
                  sharing:
                    bits: 3
            """);

        var result = Shrink.Recipes.RecipeRunner.Run(recipe, dir.File("run"), TechniqueSession.Quiet);

        Assert.Equal(new[] { "factorize", "cluster" }, result.Stages.Select(s => s.Technique));
        var model = OnnxReader.Read(result.FinalModel);
        Assert.Contains(model.Graph.Initializers, v => v.Name.EndsWith("_lowrank_a"));
        Assert.Equal(5, ClusterPass.ReadBits(model).Count);  // the two factor pairs and the classifier
        Assert.Contains("ratio: 0.3", File.ReadAllText(result.LockPath));
    }
}
