using System.CommandLine;
using System.Diagnostics;
using Shrink.Cli;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>The exit codes that are not bad input: 1 for a bug (an unexpected exception), 130 for a training run stopped by Ctrl-C.</summary>
public class ExitCodeTests
{
    private static (int Code, string Err) RunBuggy(Exception bug, Shrink.Passes.NotesLevel verbosity = Shrink.Passes.NotesLevel.Normal)
    {
        var err = new StringWriter();
        var cli = new CliContext(new StringWriter(), err) { Verbosity = verbosity };
        var command = new Command("demo");
        command.SetAction(cli.Guard(_ => throw bug));
        return (new RootCommand { command }.Parse("demo").Invoke(), err.ToString());
    }

    [Fact]
    public void AnUnexpectedException_IsAnInternalError_ExitCode1_WithTwoLinesAndNoStackTrace()
    {
        var (code, err) = RunBuggy(new NullReferenceException("Object reference not set to an instance of an object."));

        Assert.Equal(ShrinkApp.InternalError, code);
        Assert.Equal(new[]
        {
            "internal error: NullReferenceException: Object reference not set to an instance of an object.",
            "this is a bug in Shrink; please report it with the command line that caused it (SHRINK_DEBUG=1 prints the stack trace)",
        }, err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void WithVerbosityDetailed_AnInternalErrorAlsoPrintsItsStackTrace()
    {
        static Exception Thrown() { try { throw new InvalidOperationException("bug"); } catch (InvalidOperationException e) { return e; } }
        var (code, err) = RunBuggy(Thrown(), Shrink.Passes.NotesLevel.Detailed);
        Assert.Equal(ShrinkApp.InternalError, code);
        Assert.StartsWith("internal error: InvalidOperationException: bug", err);
        Assert.Contains("   at ", err);
    }

    [Fact]
    public void AnInternalErrorMessage_IsOneLine_AndUserErrorsStayExitCode2()
    {
        var (code, err) = RunBuggy(new InvalidOperationException("internal error: 'w' does not survive\nthe container"));
        Assert.Equal(1, code);
        Assert.StartsWith("internal error: InvalidOperationException: internal error: 'w' does not survive\\nthe container", err);
        Assert.DoesNotContain("   at ", err);

        Assert.Equal(2, RunBuggy(new DataException("the test set is empty")).Code);
        Assert.Equal(2, RunBuggy(new IOException("No space left on device", 28)).Code);  // the machine's refusal, not a bug
    }
}

/// <summary><c>shrink train</c> as a real process, stopped by SIGINT (Ctrl-C) mid-run, then resumed.</summary>
[Collection("torch")]
public class InterruptTests
{
    /// <summary>libc's kill(2): the signal is sent at once, not after a <c>kill</c> process has started on a loaded machine.</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private const int Sigint = 2;

    private static Process Start(params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Shrink.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    [Fact]
    public void SigintDuringTraining_WritesACheckpoint_ExitsWith130_AndResumeFinishes()
    {
        using var dir = new TempDirectory();
        string[] Args(params string[] extra) => new[] { "train", "--model", "lenet300", "--data", "embedded", "--limit", "2000", "--batch", "2", "--lr", "0.01",
            "--epochs", "12", "--threads", "1", "--out", dir.File("m.onnx") }.Concat(extra).ToArray();   // 12 epochs of 1,000 steps (about a second each): SIGINT lands long before the end even when the test host is starved of CPU
        using var run = Start(Args());
        var stderr = run.StandardError.ReadToEndAsync();
        string? line;
        while ((line = run.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 1/12", StringComparison.Ordinal)) { }
        Assert.NotNull(line);  // the first epoch finished: the run is in its second
        Assert.Equal(0, Kill(run.Id, Sigint));
        var rest = run.StandardOutput.ReadToEnd();
        Assert.True(run.WaitForExit(60_000), "the run stops within a minute of SIGINT");

        Assert.True(run.ExitCode == 130, $"exit {run.ExitCode}: {stderr.Result}");
        Assert.Contains($"interrupted: checkpoint written to {Path.Combine(dir.File("m.run"), "checkpoint.bin")}; continue with the same command and --resume", stderr.Result);
        Assert.DoesNotContain("epoch 12/12", rest);
        Assert.False(File.Exists(dir.File("m.onnx")));
        Assert.True(File.Exists(Path.Combine(dir.File("m.run"), "checkpoint.bin")));

        // Resumed in a process of its own too: --threads would otherwise change libtorch's threads for the tests that follow.
        using var resumed = Start(Args("--resume", "--json"));
        var resumedErr = resumed.StandardError.ReadToEndAsync();
        var json = resumed.StandardOutput.ReadToEnd();
        Assert.True(resumed.WaitForExit(120_000), "the resumed run finishes");
        Assert.True(resumed.ExitCode == 0, resumedErr.Result);
        Assert.Equal(12, System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("epochs").GetInt32());
        Assert.NotEmpty(OnnxReader.Read(dir.File("m.onnx")).Graph.Nodes);
    }
}
