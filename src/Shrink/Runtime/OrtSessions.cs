using Microsoft.ML.OnnxRuntime;

namespace Shrink.Runtime;

/// <summary>
/// The one place Shrink opens ONNX Runtime sessions. The first call creates ONNX Runtime's process
/// environment with log level ERROR and a logging function of Shrink's own, so that ONNX Runtime's
/// native logger, which colours its lines with ANSI codes whatever stderr is, never writes to the
/// console: its warnings (an unused initializer removed, a node placed on CPU, …) are dropped, and its
/// errors reach the user once, as the exception <see cref="OnnxRunner"/> and <see cref="ModelSaver"/>
/// wrap. With <c>SHRINK_DEBUG=1</c> every message from warnings up is written to stderr as plain text.
/// </summary>
internal static class OrtSessions
{
    /// <summary>The environment variable that makes ONNX Runtime's messages visible.</summary>
    private const string DebugVariable = "SHRINK_DEBUG";

    private static readonly Lock Gate = new();

    // Held for the life of the process: native code calls it.
    private static readonly DOrtLoggingFunction Logger = Log;

    private static bool _ready;

    /// <summary>The log level Shrink gives ONNX Runtime: warnings only when debugging, errors otherwise.</summary>
    internal static OrtLoggingLevel LogLevel => Debugging ? OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING : OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;

    private static bool Debugging => Environment.GetEnvironmentVariable(DebugVariable) == "1";

    /// <summary>Session options with Shrink's log level; the caller disposes them.</summary>
    public static SessionOptions NewOptions()
    {
        EnsureEnvironment();
        return new SessionOptions { LogSeverityLevel = LogLevel };
    }

    /// <summary>Opens a session on a model file.</summary>
    public static InferenceSession Open(string path, SessionOptions? options = null)
    {
        EnsureEnvironment();
        using var owned = options is null ? NewOptions() : null;
        return new InferenceSession(path, options ?? owned!);
    }

    /// <summary>Opens a session on a serialized model.</summary>
    public static InferenceSession Open(byte[] model, SessionOptions? options = null)
    {
        EnsureEnvironment();
        using var owned = options is null ? NewOptions() : null;
        return new InferenceSession(model, options ?? owned!);
    }

    /// <summary>
    /// Creates the environment once. When something else created it first (a host application using
    /// ONNX Runtime itself), its logging is left alone; sessions still log at <see cref="LogLevel"/>.
    /// </summary>
    private static void EnsureEnvironment()
    {
        lock (Gate)
        {
            if (_ready) return;
            _ready = true;
            if (OrtEnv.IsCreated) return;
            var options = new EnvironmentCreationOptions
            {
                logId = "shrink",
                logLevel = LogLevel,
                loggingFunction = Logger,
            };
            OrtEnv.CreateInstanceWithOptions(ref options);
        }
    }

    private static void Log(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        if (Debugging) Console.Error.WriteLine($"onnxruntime {severity.ToString().Replace("ORT_LOGGING_LEVEL_", "").ToLowerInvariant()}: {message}");
    }
}
