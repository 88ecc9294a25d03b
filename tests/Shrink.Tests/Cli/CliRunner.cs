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

    public static string TorchModel(string name) => Path.Combine(AppContext.BaseDirectory, "data", "torch", name);
}
