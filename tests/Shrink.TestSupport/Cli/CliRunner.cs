using Shrink.Cli;

namespace Shrink.TestSupport;

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
        Xunit.Assert.True(lines[0].Contains(expected), $"expected: {expected}\n  actual: {lines[0]}");
        Xunit.Assert.DoesNotContain("   at ", r.Err);
    }

    /// <summary>Writes zoo model <paramref name="name"/> into the directory (as <paramref name="file"/>, default NAME.onnx) and returns its path.</summary>
    public static string Zoo(TempDirectory dir, string name, string? file = null)
    {
        var path = dir.File(file ?? name + ".onnx");
        Xunit.Assert.Equal(0, Run("zoo", name, "--out", path).ExitCode);
        return path;
    }

    /// <summary>
    /// <paramref name="args"/> (a command writing <paramref name="output"/>) with --save-recipe writes a one-stage recipe of
    /// <paramref name="technique"/> and no model; the command itself and <c>shrink recipe run</c> of that recipe then make the
    /// same model, bit for bit.
    /// </summary>
    public static void AssertRecipeReplays(TempDirectory dir, string[] args, string output, string technique)
    {
        var saved = Run(args.Append("--save-recipe").Append(dir.File("r.yaml")).ToArray());
        Xunit.Assert.True(saved.ExitCode == 0, saved.Err);
        Xunit.Assert.False(File.Exists(output));
        Xunit.Assert.Contains($"technique: {technique}", File.ReadAllText(dir.File("r.yaml")));
        var direct = Run(args);
        Xunit.Assert.True(direct.ExitCode == 0, direct.Err);
        var replay = Run("recipe", "run", dir.File("r.yaml"), "--out", dir.File("run"));
        Xunit.Assert.True(replay.ExitCode == 0, replay.Err);
        Xunit.Assert.Equal(File.ReadAllBytes(output), File.ReadAllBytes(dir.File($"run/01-{technique}.onnx")));
    }
}
