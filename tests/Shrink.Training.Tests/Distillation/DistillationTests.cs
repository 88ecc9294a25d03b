using Shrink.Builder;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Zoo;
using TorchSharp;
using Xunit;

namespace Shrink.Training.Tests.Distillation;

/// <summary>Knowledge distillation: the loss against its definition, the cache against the live teacher, hints and attention.</summary>
[Collection("torch")]
public class DistillationTests
{
    private static TrainStep Step(GraphExecutor student, IDataSource train, int[] samples, IReadOnlyList<string> taps)
    {
        var (x, y) = (new float[samples.Length * 784], new long[samples.Length]);
        for (var i = 0; i < samples.Length; i++)
        {
            var (xi, yi) = train.Batch(samples[i], 1);
            Array.Copy(xi, 0, x, i * 784, 784);
            y[i] = yi[0];
        }
        var input = torch.tensor(x, new long[] { samples.Length, 1, 28, 28 });
        var outputs = student.Run(new[] { input }, taps);
        var tapValues = taps.Select((t, i) => (t, outputs[1 + i])).ToDictionary(p => p.t, p => p.Item2);
        return new TrainStep(student, 0, 0, 0, samples, new[] { input }, torch.tensor(y), outputs[..1], tapValues);
    }

    private static double[] Softmax(float[] z, int row, int k, double t)
    {
        var e = Enumerable.Range(0, k).Select(c => Math.Exp(z[row * k + c] / t)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    [Fact]
    public void SoftTargetLossIsAlphaTSquaredKl()
    {
        TorchRuntime.EnsureInitialized();
        var data = FashionMnist.LoadEmbedded().Train.Take(64);
        var teacher = ModelZoo.Create("lenet300", seed: 1);
        using var student = GraphExecutor.Compile(ModelZoo.Create("lenet5", seed: 2));
        var options = new DistillationOptions { Temperature = 3, Alpha = 0.7 };
        using var hook = new DistillationHook(student, teacher, options, data);
        Assert.True(hook.Cached);
        Assert.Equal(0.3, hook.LabelLossWeight, 12);
        using var scope = torch.NewDisposeScope();
        var samples = new[] { 5, 17, 40 };
        var step = Step(student, data, samples, hook.Taps);
        var loss = hook.ExtraLoss(step)!.item<float>();

        // By hand: teacher logits from ONNX Runtime, the student's from the executor.
        using var ort = Shrink.Runtime.OnnxRunner.FromModel(teacher);
        var expected = 0.0;
        var zs = step.Logits.data<float>().ToArray();
        for (var i = 0; i < samples.Length; i++)
        {
            var (x, _) = data.Batch(samples[i], 1);
            var zt = (float[])ort.Run(new[] { new Shrink.Runtime.HostTensor("input", x, new long[] { 1, 1, 28, 28 }) })[0].Data;
            var p = Softmax(zt, 0, 10, 3);
            var q = Softmax(zs, i, 10, 3);
            expected += p.Zip(q).Sum(a => a.First * Math.Log(a.First / a.Second));
        }
        expected = 0.7 * 9 * expected / samples.Length;
        Assert.Equal(expected, loss, 4);

        // The live teacher (executor, no cache) gives the same loss.
        using var live = new DistillationHook(student, teacher, options with { CacheLogits = false }, data);
        Assert.False(live.Cached);
        Assert.Equal(loss, live.ExtraLoss(step)!.item<float>(), 4);
    }

    [Fact]
    public void HintsAndAttentionAddTrainableAdaptersAndTerms()
    {
        TorchRuntime.EnsureInitialized();
        var data = FashionMnist.LoadEmbedded().Train.Take(32);
        var teacher = ModelZoo.Create("vgg-small", seed: 1);
        using var student = GraphExecutor.Compile(ModelZoo.Create("lenet5", seed: 2));
        var kdOnly = new DistillationOptions();
        // vgg-small's second block [N, 64, 14, 14] → lenet5's conv2 [N, 50, 8, 8] (pooled to 8×8), and the hidden vectors 256 ← 500.
        var options = kdOnly with
        {
            Hints = new[] { new TensorPair("relu4_out", "conv2_out"), new TensorPair("relu7_out", "relu1_out") },
            Attention = new[] { new TensorPair("relu2_out", "conv1_out") },
        };
        using var hook = new DistillationHook(student, teacher, options, data, seed: 5);
        Assert.False(hook.Cached); // features need the live teacher
        var shapes = hook.Parameters.Select(p => p.Tensor.shape).ToList();
        Assert.Equal(new long[] { 64, 50, 1, 1 }, shapes[0]);
        Assert.Equal(new long[] { 64 }, shapes[1]);
        Assert.Equal(new long[] { 256, 500 }, shapes[2]);
        using var scope = torch.NewDisposeScope();
        var step = Step(student, data, new[] { 0, 1, 2, 3 }, hook.Taps);
        using var plain = new DistillationHook(student, teacher, kdOnly with { CacheLogits = false }, data);
        var withFeatures = hook.ExtraLoss(step)!;
        var kd = plain.ExtraLoss(step)!.item<float>();
        Assert.True(withFeatures.item<float>() > kd + 1e-3, $"hint and attention terms add to the loss ({withFeatures.item<float>()} against {kd})");
        withFeatures.backward();
        Assert.NotEmpty(hook.Parameters);
        Assert.All(hook.Parameters, p => Assert.True(p.Tensor.grad is { } g && g.abs().sum().item<float>() > 0, $"{p.Name} gets a gradient"));
    }

    /// <summary>A label-free step: the executor's outputs on samples of <paramref name="data"/>, no labels.</summary>
    private static TrainStep LabelFreeStep(GraphExecutor student, IDataSource data, int[] samples)
    {
        var inputs = DataBinding.For(student.Inputs, data).ModelInputs(data.Read(samples)).Select(TorchTensors.FromHost).ToArray();
        var outputs = student.Run(inputs, Array.Empty<string>());
        return new TrainStep(student, 0, 0, 0, samples, inputs, null, outputs, new Dictionary<string, torch.Tensor>());
    }

    [Fact]
    public void WithoutLabels_AClassifierOutputIsTSquaredKl_WithoutAlpha()
    {
        TorchRuntime.EnsureInitialized();
        var images = FashionMnist.LoadEmbedded().Train.Take(64).All();
        var data = new InMemorySource("images, no labels", images.Inputs);
        var teacher = ModelZoo.Create("lenet300", seed: 1);
        using var student = GraphExecutor.Compile(ModelZoo.Create("lenet300", seed: 2));
        using var hook = new DistillationHook(student, teacher, new DistillationOptions { Temperature = 2, Alpha = 0.3 }, data);
        Assert.True(hook.LabelFree && hook.Cached && hook.Supervises);
        Assert.Contains(hook.Fingerprint, kv => kv.Key == "distill.outputs");
        using var scope = torch.NewDisposeScope();
        var samples = new[] { 3, 9 };
        var loss = hook.ExtraLoss(LabelFreeStep(student, data, samples))!.item<float>();

        using var ort = Shrink.Runtime.OnnxRunner.FromModel(teacher);
        var zs = LabelFreeStep(student, data, samples).Logits.data<float>().ToArray();
        var expected = 0.0;
        for (var i = 0; i < samples.Length; i++)
        {
            var x = (float[])data.Read([samples[i]]).Inputs[0].Data;
            var zt = (float[])ort.Run(new[] { new Shrink.Runtime.HostTensor("input", x, new long[] { 1, 1, 28, 28 }) })[0].Data;
            var (p, q) = (Softmax(zt, 0, 10, 2), Softmax(zs, i, 10, 2));
            expected += p.Zip(q).Sum(a => a.First * Math.Log(a.First / a.Second));
        }
        Assert.Equal(4 * expected / samples.Length, loss, 4);  // T² = 4; α applies only beside labels
    }

    [Fact]
    public void WithoutLabels_AMapOutputIsTheMeanSquaredError()
    {
        TorchRuntime.EnsureInitialized();
        var data = AnyInputModels.Normal("image", 16, seed: 3, 3, 8, 8);
        var teacher = AnyInputModels.SegmentationHead(seed: 1);
        using var student = GraphExecutor.Compile(AnyInputModels.SegmentationHead(seed: 2));
        using var hook = new DistillationHook(student, teacher, new DistillationOptions(), data);
        using var scope = torch.NewDisposeScope();
        var step = LabelFreeStep(student, data, [0, 5, 7]);
        var loss = hook.ExtraLoss(step)!.item<float>();

        using var ort = Shrink.Runtime.OnnxRunner.FromModel(teacher);
        var t = (float[])ort.Run(new[] { new Shrink.Runtime.HostTensor("image", (float[])data.Read([0, 5, 7]).Inputs[0].Data, new long[] { 3, 3, 8, 8 }) })[0].Data;
        var s = step.Logits.data<float>().ToArray();
        Assert.Equal(t.Zip(s).Average(p => (p.First - p.Second) * (double)(p.First - p.Second)), loss, 5);
    }

    [Fact]
    public void DifferentClassCountsAreRefused()
    {
        TorchRuntime.EnsureInitialized();
        var b = new NetworkBuilder("five", 1);
        var x = b.Input("input", 1, 28, 28);
        b.Output(b.Linear(b.Flatten(x), 5), "output");
        var data = FashionMnist.LoadEmbedded().Train.Take(8);
        using var student = GraphExecutor.Compile(b.Build());
        var e = Assert.Throws<OptionsException>(() => new DistillationHook(student, ModelZoo.Create("lenet300"), new DistillationOptions(), data));
        Assert.Contains("same classes", e.Message);
    }
}
