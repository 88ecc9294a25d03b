using System.Runtime.InteropServices;

namespace Shrink.Cli;

/// <summary>Ctrl-C and SIGTERM for the commands that coordinate or serve a study (<c>study synthetic</c>, <c>worker</c>): the first cancels, the work gives back what runs.</summary>
internal static class CliSignals
{
    /// <summary>Runs <paramref name="body"/> with Ctrl-C and SIGTERM cancelling <paramref name="cancel"/> (the body gives back what runs).</summary>
    public static T UntilStopped<T>(CancellationTokenSource cancel, Func<T> body)
    {
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        System.Console.CancelKeyPress += onCancel;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        try
        {
            return body();
        }
        finally
        {
            System.Console.CancelKeyPress -= onCancel;
        }
    }
}
