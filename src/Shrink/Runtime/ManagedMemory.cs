namespace Shrink.Runtime;

/// <summary>
/// Gives the managed heap's free space back to the operating system before ONNX Runtime takes a big model. Reading,
/// compressing and writing a model leaves freed arrays the size of its layers on the large-object heap, which the
/// collector keeps committed for reuse; ONNX Runtime's memory is native and cannot reuse them, so without this the
/// process holds both at its peak. Called where a command hands its models to ONNX Runtime (the load check of a
/// written model, the before/after measurement), not per session: one full blocking collection there costs
/// milliseconds beside a session on a big model.
/// </summary>
internal static class ManagedMemory
{
    /// <summary>Committed managed memory from which a full collection is worth its time.</summary>
    public const long WorthCollectingBytes = 64L << 20;

    /// <summary>
    /// A full, compacting collection that decommits the free space (<see cref="GCCollectionMode.Aggressive"/>), when the managed
    /// heap has at least <see cref="WorthCollectingBytes"/> committed (small heaps, as in tests, are left alone).
    /// </summary>
    public static void ReturnFreeSpace()
    {
        if (GC.GetGCMemoryInfo().TotalCommittedBytes >= WorthCollectingBytes)
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
