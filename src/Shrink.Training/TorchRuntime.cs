using TorchSharp;

namespace Shrink.Training;

/// <summary>
/// Process-wide libtorch setup: loads the native library once, with a clear error when it cannot,
/// and fixes the intra-op thread count (set it before the first tensor; stable reductions need a fixed count).
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>The intra-op thread count in use.</summary>
    public static int Threads { get; private set; }

    /// <summary>Loads libtorch and sets the thread count (default: the processor count).</summary>
    public static void EnsureInitialized(int? threads = null)
    {
        lock (Gate)
        {
            if (!_initialized)
            {
                try
                {
                    torch.InitializeDeviceType(DeviceType.CPU);
                }
                catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException or EntryPointNotFoundException)
                {
                    throw new RuntimeFailureException(
                        $"libtorch could not be loaded ({e.GetBaseException().Message.Split('\n')[0]}); build the program on this machine, so that Shrink.Training's build step prepares libLibTorchSharp.so for its libstdc++ (or build with the MSBuild property ShrinkPatchLibTorchSharp=always when it runs elsewhere)");
                }
                _initialized = true;
                SetThreads(threads ?? Environment.ProcessorCount);
            }
            else if (threads is { } t && t != Threads) SetThreads(t);
        }
    }

    private static void SetThreads(int threads)
    {
        if (threads < 1) throw OptionsException.For("Threads", $"must be at least 1, got {threads}");
        torch.set_num_threads(threads);
        Threads = threads;
    }
}
