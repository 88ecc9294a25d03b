using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>The distill command, and the teacher that prune and quantize --mode qat take.</summary>
[Collection("torch")]
public class DistillCommandTests
{
    [Fact]
    public void DistillCommandTrainsTheStudentAndReports()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliRunner.Run("train", "--model", "lenet300", "--epochs", "3", "--limit", "2000", "--data", "embedded",
            "--out", dir.File("teacher.onnx")).ExitCode);
        var r = CliRunner.Run("distill", "--teacher", dir.File("teacher.onnx"), "--student", "lenet300", "--epochs", "2", "--limit", "2000", "--seed", "1",
            "--data", "embedded", "--out", dir.File("student.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("cachedLogits").GetBoolean());
        var ort = root.GetProperty("studentSide").GetProperty("accuracy").GetDouble();
        Assert.InRange(ort, 0.3, 1);
        Assert.InRange(ort - root.GetProperty("executorAccuracy").GetDouble(), -0.002, 0.002);
        Assert.Contains("shrink.distilled", OnnxReader.Read(dir.File("student.onnx")).Metadata.Select(kv => kv.Key));

        string[] Args(params string[] extra) => new[] { "distill", "--teacher", dir.File("teacher.onnx"), "--student", "lenet5", "--epochs", "1", "--limit", "100",
            "--data", "embedded", "--out", dir.File("bad.onnx") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--temperature", "0")), "--temperature must be positive");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--alpha", "1.5")), "--alpha must be in [0, 1]");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--hint", "nosuch:conv2_out")), "the teacher has no tensor named 'nosuch'");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--hint", "relu1_out")), "is not TEACHER_TENSOR:STUDENT_TENSOR");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--attention", "relu1_out:relu1_out")), "attention transfer pairs two feature maps");
        Assert.False(File.Exists(dir.File("bad.onnx")));
    }

    [Fact]
    public void PruneAndQatTakeATeacher()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var r = CliRunner.Run("prune", dir.File("m.onnx"), "--method", "magnitude", "--sparsity", "0.9", "--finetune-epochs", "1", "--teacher", dir.File("m.onnx"),
            "--data", "embedded", "--bench-batch", "none", "--out", dir.File("p.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("distilling from", r.Err);
        var q = CliRunner.Run("quantize", dir.File("m.onnx"), "--mode", "qat", "--epochs", "1", "--teacher", dir.File("m.onnx"), "--calib-samples", "16",
            "--data", "embedded", "--bench-batch", "none", "--out", dir.File("q.onnx"));
        Assert.True(q.ExitCode == 0, q.Err);
        Assert.Contains("distilling from", q.Err);
        CliRunner.AssertBadInput(CliRunner.Run("prune", dir.File("m.onnx"), "--method", "magnitude", "--sparsity", "0.5", "--teacher", dir.File("m.onnx"),
            "--data", "embedded", "--out", dir.File("p2.onnx")), "give --finetune-epochs");
        CliRunner.AssertBadInput(CliRunner.Run("prune", dir.File("m.onnx"), "--method", "magnitude", "--sparsity", "0.5", "--alpha", "0.5",
            "--out", dir.File("p2.onnx")), "belong to --teacher");
        CliRunner.AssertBadInput(CliRunner.Run("quantize", dir.File("m.onnx"), "--teacher", dir.File("m.onnx"), "--data", "embedded", "--out", dir.File("q2.onnx")),
            "use it with --mode qat");
        Assert.False(File.Exists(dir.File("p2.onnx")) || File.Exists(dir.File("q2.onnx")));
    }
}
