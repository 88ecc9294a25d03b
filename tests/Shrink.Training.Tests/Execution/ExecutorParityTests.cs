using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Zoo;
using TorchSharp;
using Xunit;

namespace Shrink.Training.Tests.Execution;

/// <summary>The executor against ONNX Runtime on the same ONNX bytes: within <see cref="Parity.Tolerance"/> (1e-4) relative to the output's scale.</summary>
[Collection("torch")]
public class ExecutorParityTests
{
    [Fact]
    public void TorchInitializes()
    {
        TorchRuntime.EnsureInitialized(2);
        using var scope = torch.NewDisposeScope();
        var t = torch.ones(2, 3).matmul(torch.ones(3, 4));
        Assert.Equal(24f, t.sum().item<float>());
        Assert.Equal(2, TorchRuntime.Threads);
    }

    [Theory]
    [MemberData(nameof(TestModels.Zoo), MemberType = typeof(TestModels))]
    public void ZooModelMatchesOnnxRuntime(string name)
    {
        var model = ModelZoo.Create(name, seed: 3);
        using var runner = OnnxRunner.FromModel(model);
        var inputs = runner.RandomInputs(batch: 3, seed: 5);
        AssertParity(model, runner, inputs);
    }

    [Theory]
    [MemberData(nameof(TestModels.Torch), MemberType = typeof(TestModels))]
    public void TorchExportMatchesOnnxRuntimeAndPyTorch(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        using var runner = OnnxRunner.Load(TestModels.TorchPath(name));
        var (data, shape) = TestModels.TorchArray(name, "input");
        var inputs = new[] { new HostTensor(runner.Inputs[0].Name, data, shape) };
        var ours = AssertParity(model, runner, inputs);
        var (reference, _) = TestModels.TorchArray(name, "output");
        Parity.AssertClose(reference, ours, $"{name} vs PyTorch");
    }

    [Fact]
    public void UnsupportedOpIsNamed()
    {
        var g = new Graph("g");
        var x = new Value("x", DataType.Float, Shape.Of(1, 4));
        g.Inputs.Add(x);
        var n = g.AddNode(new Node("Hardmax"));
        n.AddInput(x);
        var y = n.AddOutput(new Value("y", DataType.Float))!;
        g.Outputs.Add(y);
        var model = new Model(g);
        model.SetOpset("", 17);
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(model));
        Assert.Contains("Hardmax", e.Message);
        Assert.Equal(new[] { "Hardmax" }, e.Ops);
    }

    [Fact]
    public void TrainingModeUpdatesBatchNormStatisticsAndExportWritesThemBack()
    {
        var model = ModelZoo.Create("vgg-small", seed: 1);
        using var ex = GraphExecutor.Compile(model);
        var mean = ex.Parameters.First(p => p.Kind == ParameterKind.Buffer);
        var before = mean.Tensor.clone().DetachFromDisposeScope();
        using (var scope = torch.NewDisposeScope())
        {
            ex.Training = true;
            ex.Forward(torch.rand(8, 1, 28, 28));
        }
        Assert.False(before.allclose(mean.Tensor));
        var exported = ex.Export();
        var written = exported.Graph.FindInitializer(mean.Name)!.Const!.AsFloats().ToArray();
        Assert.Equal(mean.Tensor.data<float>().ToArray(), written);
        // The input model is untouched.
        Assert.Equal(before.data<float>().ToArray(), model.Graph.FindInitializer(mean.Name)!.Const!.AsFloats().ToArray());
        before.Dispose();
    }

    [Fact]
    public void DropoutDropsOnlyInTrainingMode()
    {
        var b = new NetworkBuilder("d", 0);
        var x = b.Input("input", 1000);
        b.Output(b.Dropout(x, 0.5f), "output");
        using var ex = GraphExecutor.Compile(b.Build());
        using var scope = torch.NewDisposeScope();
        var input = torch.ones(4, 1000);
        ex.Training = false;
        Assert.True(ex.Forward(input)[0].allclose(input));
        ex.Training = true;
        var dropped = ex.Forward(input)[0];
        var zeros = dropped.eq(0).sum().item<long>();
        // 4,000 Bernoulli(0.5) draws: mean 2,000, σ ≈ 31.6; the band is ±4σ (fails about once in 16,000 runs).
        Assert.InRange(zeros, 1874, 2126);
        // Inverted dropout: what is kept is scaled by 1 / (1 − p) = 2.
        Assert.True(dropped.masked_select(dropped.ne(0)).eq(2).all().item<bool>());
    }

    [Fact]
    public void ParametersAreWeightsBuffersAndFreezable()
    {
        using var ex = GraphExecutor.Compile(ModelZoo.Create("resnet-small"));
        var weights = ex.Parameters.Where(p => p.Kind == ParameterKind.Weight).ToList();
        var buffers = ex.Parameters.Where(p => p.Kind == ParameterKind.Buffer).ToList();
        Assert.Equal(273_754, weights.Sum(p => p.Tensor.numel()) + buffers.Sum(p => p.Tensor.numel()));
        Assert.Equal(2 * ex.Model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization"), buffers.Count);
        var first = weights[0];
        first.Trainable = false;
        Assert.DoesNotContain(ex.TrainableTensors, t => ReferenceEquals(t, first.Tensor));
        buffers[0].Trainable = true;
        Assert.False(buffers[0].Trainable);
    }

    private static float[] AssertParity(Model model, OnnxRunner runner, IReadOnlyList<HostTensor> inputs)
    {
        var expected = (float[])runner.Run(inputs)[0].Data;
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var outputs = ex.Forward(inputs.Select(TorchTensors.FromHost).ToArray());
        var actual = outputs[0].data<float>().ToArray();
        Parity.AssertClose(expected, actual, model.Graph.Name);
        return actual;
    }
}
