using Shrink.Cli;

namespace Shrink.Tests.Cli;

/// <summary>Runs the <c>shrink</c> command in-process and captures its output and exit code.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = ShrinkApp.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A bad input: exit code 2 and one line on stderr, "error: …" containing the expected text, no stack trace.</summary>
    public static void AssertBadInput(Result r, string expected)
    {
        Xunit.Assert.Equal(2, r.ExitCode);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Xunit.Assert.Single(lines);
        Xunit.Assert.StartsWith("error: ", lines[0]);
        Xunit.Assert.Contains(expected, lines[0]);
        Xunit.Assert.DoesNotContain("   at ", r.Err);
    }

    /// <summary>Writes zoo model <paramref name="name"/> into the directory (as <paramref name="file"/>, default NAME.onnx) and returns its path.</summary>
    public static string Zoo(Shrink.Tests.Data.TempDirectory dir, string name, string? file = null)
    {
        var path = dir.File(file ?? name + ".onnx");
        Xunit.Assert.Equal(0, Run("zoo", name, "--out", path).ExitCode);
        return path;
    }

    public static string TorchModel(string name) => Path.Combine(AppContext.BaseDirectory, "data", "torch", name);
}
