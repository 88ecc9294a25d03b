using System.Diagnostics;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// The <c>shrink</c> CLI in a process of its own, its stderr collected (for tests that kill or interrupt it). With
/// <c>defaultSigint</c> it is started through <c>env --default-signal=INT</c> so that SIGINT reaches it: a shell may start
/// it with SIGINT ignored.
/// </summary>
internal sealed class CliProcess : IDisposable
{
    private readonly System.Text.StringBuilder _err = new();

    private CliProcess(ProcessStartInfo start)
    {
        Process = Process.Start(start)!;
        Process.ErrorDataReceived += (_, e) => { lock (_err) _err.AppendLine(e.Data); };
        Process.OutputDataReceived += (_, _) => { };
        Process.BeginErrorReadLine();
        Process.BeginOutputReadLine();
    }

    public Process Process { get; }

    public string Err
    {
        get
        {
            if (Process.HasExited) Process.WaitForExit();   // the redirected streams are drained
            lock (_err) return _err.ToString();
        }
    }

    public static CliProcess Start(string[] args, bool defaultSigint = false)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(defaultSigint ? "env" : host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (defaultSigint) foreach (var a in new[] { "--default-signal=INT", host }) start.ArgumentList.Add(a);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Shrink.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        return new CliProcess(start);
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}
