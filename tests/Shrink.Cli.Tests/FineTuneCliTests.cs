using System.Diagnostics;
using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>
/// The run directory of the commands that fine-tune: Ctrl-C (a real SIGINT to a real process) writes a
/// checkpoint and exits 130, <c>--resume</c> ends in the uninterrupted run's model, a default run directory is
/// removed after success (so the same command runs again), a given one is kept and resumes without training.
/// </summary>
[Collection("torch")]
public class FineTuneCliTests
{
    private static string[] Prune(string model, string output, params string[] extra) =>
        new[] { "prune", model, "--sparsity", "0.8", "--data", "embedded", "--bench-batch", "none", "--out", output }.Concat(extra).ToArray();

    private static void AssertOk(CliRunner.Result r) => Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Err}");

    [Fact]
    public void SigintMidFineTuningWritesACheckpointAndResumeEndsInTheUninterruptedModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        AssertOk(CliRunner.Run(Prune(model, dir.File("reference.onnx"), "--finetune-epochs", "3")));
        Assert.False(Directory.Exists(dir.File("reference.run"))); // a default run directory goes once the run succeeded

        var (code, err) = RunAndInterrupt(Prune(model, dir.File("p.onnx"), "--finetune-epochs", "3"), after: "epoch 1/3");

        Assert.True(code == 130, $"exit {code}: {err}");
        var line = Assert.Single(err.Split('\n'), l => l.StartsWith("interrupted: ", StringComparison.Ordinal));
        Assert.StartsWith($"interrupted: checkpoint written to {dir.File("p.run")}{Path.DirectorySeparatorChar}", line);
        Assert.EndsWith("checkpoint.bin; continue with the same command and --resume", line.TrimEnd('\r'));
        Assert.False(File.Exists(dir.File("p.onnx")));

        var resumed = CliRunner.Run(Prune(model, dir.File("p.onnx"), "--finetune-epochs", "3", "--resume"));
        AssertOk(resumed);
        Assert.Contains("resuming from", resumed.Err);
        Assert.DoesNotContain("epoch 1/3", resumed.Err); // the first epoch was finished before the interruption
        Assert.Contains("epoch 3/3", resumed.Err);
        Assert.Equal(File.ReadAllBytes(dir.File("reference.onnx")), File.ReadAllBytes(dir.File("p.onnx")));
        Assert.False(Directory.Exists(dir.File("p.run")));
    }

    /// <summary>Starts the real <c>shrink</c> executable (with SIGINT at its default), sends it SIGINT once a line of stderr contains <paramref name="after"/>, and waits for it.</summary>
    private static (int Code, string Err) RunAndInterrupt(string[] args, string after)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Shrink.Cli.exe" : "Shrink.Cli");
        // Through env --default-signal: a shell starts background jobs with SIGINT ignored, and the child would inherit that.
        var psi = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--default-signal=INT", cli }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var err = new System.Text.StringBuilder();
        var signalled = false;
        while (p.StandardError.ReadLine() is { } line)
        {
            err.AppendLine(line);
            if (signalled || !line.Contains(after, StringComparison.Ordinal)) continue;
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", p.Id.ToString() }, UseShellExecute = false })!;
            kill.WaitForExit();
            signalled = true;
        }
        if (!p.WaitForExit(120_000)) p.Kill(entireProcessTree: true);
        GC.KeepAlive(stdout.Result);
        Assert.True(signalled, $"'{after}' never appeared on stderr: {err}");
        return (p.ExitCode, err.ToString());
    }

    [Fact]
    public void AGivenRunDirectoryIsKeptAndResumingAFinishedRunWritesItsModelWithoutTraining()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var run = dir.File("runs");
        AssertOk(CliRunner.Run(Prune(model, dir.File("a.onnx"), "--finetune-epochs", "1", "--run-dir", run)));
        Assert.True(Shrink.Training.TrainingSession.HoldsRun(run));

        CliRunner.AssertBadInput(CliRunner.Run(Prune(model, dir.File("b.onnx"), "--finetune-epochs", "1", "--run-dir", run)),
            $"{run} already holds a run; continue it with --resume, or choose another --run-dir");
        var again = CliRunner.Run(Prune(model, dir.File("b.onnx"), "--finetune-epochs", "1", "--run-dir", run, "--resume"));
        AssertOk(again);
        Assert.DoesNotContain("epoch 1/1", again.Err);
        Assert.Equal(File.ReadAllBytes(dir.File("a.onnx")), File.ReadAllBytes(dir.File("b.onnx")));
        Assert.True(Shrink.Training.TrainingSession.HoldsRun(run));

        // The default run directory is removed after success, so the same command runs again as it always did.
        AssertOk(CliRunner.Run(Prune(model, dir.File("c.onnx"), "--finetune-epochs", "1")));
        AssertOk(CliRunner.Run(Prune(model, dir.File("c.onnx"), "--finetune-epochs", "1")));
        Assert.False(Directory.Exists(dir.File("c.run")));
    }

    [Theory]
    [InlineData("prune", "--resume", "no run to continue in")]
    [InlineData("prune", "--run-dir", "this command trains nothing as given")]
    [InlineData("prune", "--run-dir=file", "is a regular file, not a directory")]
    [InlineData("cluster", "--resume", "no run to continue in")]
    [InlineData("factorize", "--resume", "no run to continue in")]
    [InlineData("quantize", "--resume", "no run to continue in")]
    public void BadRunDirectoryOptionsGetOneLineAndWriteNothing(string command, string option, string expected)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        File.WriteAllText(dir.File("file"), "");
        var args = new List<string> { command, model, "--data", "embedded", "--out", dir.File("o.onnx") };
        args.AddRange(command switch
        {
            "prune" => new[] { "--sparsity", "0.5" }.Concat(option == "--run-dir" ? Array.Empty<string>() : new[] { "--finetune-epochs", "1" }),
            "quantize" => new[] { "--mode", "qat", "--epochs", "1" },
            "factorize" => new[] { "--ratio", "0.3", "--finetune-epochs", "1" },
            _ => new[] { "--finetune-epochs", "1" },
        });
        args.AddRange(option switch
        {
            "--run-dir" => new[] { "--run-dir", dir.File("r") },
            "--run-dir=file" => new[] { "--run-dir", dir.File("file") },
            _ => new[] { option },
        });
        CliRunner.AssertBadInput(CliRunner.Run(args.ToArray()), expected);
        Assert.Equal(new[] { "file", "m.onnx" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }
}
