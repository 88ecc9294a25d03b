using System.Runtime.InteropServices;

namespace Shrink.Runtime;

/// <summary>
/// What the C library's allocator keeps of ONNX Runtime's (and libtorch's) freed memory. glibc serves a block of 128 KiB or more with its
/// own <c>mmap</c> and returns it to the system on <c>free</c>, but after the first such block is freed it raises that
/// threshold to the block's size (up to 32 MiB): from then on a model's weight tensors, the buffers ONNX Runtime parses
/// the file into and the copies prepacking replaces are all taken from the heap, and what a session frees while it loads
/// stays resident until the load ends (and after, until <see cref="Trim"/>). Loading several models in one process one
/// after another then peaks far above any one of them (bench/split.sh: two halves of a 300 MiB MLP peaked at 530 MiB, the
/// whole at 462). <see cref="MapLargeBlocks"/> fixes the threshold, which also stops glibc moving it; elsewhere (another
/// C library, another system) both calls do nothing.
/// </summary>
public static class NativeHeap
{
    /// <summary>Blocks of this size or more are mapped on their own and unmapped when freed.</summary>
    internal const int MapThreshold = 1 << 20;

    private const int MmapThresholdParameter = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    private static bool _unavailable = !OperatingSystem.IsLinux();

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int parameter, int value);

    /// <summary>
    /// Has blocks of <see cref="MapThreshold"/> bytes or more mapped on their own from now on, for the whole process;
    /// true when the C library took the setting.
    /// </summary>
    public static bool MapLargeBlocks() => Call(() => MallOpt(MmapThresholdParameter, MapThreshold) == 1);

    /// <summary>Returns the heap's free pages to the system (<c>malloc_trim(0)</c>).</summary>
    public static void Trim() => Call(() => MallocTrim(0) >= 0);

    private static bool Call(Func<bool> f)
    {
        if (_unavailable) return false;
        try { return f(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return false;
        }
    }
}
