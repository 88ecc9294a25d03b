using Xunit;

namespace Shrink.TestSupport;

/// <summary>What an action allocates on the calling thread, for the tests that hold refusals to "before the allocation".</summary>
internal static class Allocations
{
    public const long OneMiB = 1 << 20;

    public static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>The exception <paramref name="action"/> throws, after it allocated less than <paramref name="maxBytes"/>.</summary>
    public static T Refused<T>(Action action, long maxBytes) where T : Exception
    {
        T? caught = null;
        var bytes = Allocated(() => caught = Assert.Throws<T>(action));
        Assert.True(bytes < maxBytes, $"allocated {bytes:N0} bytes before refusing");
        return caught!;
    }
}
