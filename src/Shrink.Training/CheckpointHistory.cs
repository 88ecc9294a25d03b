namespace Shrink.Training;

/// <summary>Checks the epoch metrics a checkpoint's header carries: one entry per finished epoch, each in range.</summary>
internal static class CheckpointHistory
{
    /// <summary>What is wrong with the header's history, or null when it fits the position.</summary>
    public static string? Problem(CheckpointState s, int epochs)
    {
        var history = s.History ?? new List<EpochMetrics>();
        if (history.Count != s.Epoch) return $"header field 'History' has {history.Count} epoch(s); the position says {s.Epoch}";
        for (var i = 0; i < history.Count; i++)
            if (Problem(history[i], i + 1) is { } problem) return $"header field 'History[{i}]' {problem}";
        return null;
    }

    private static string? Problem(EpochMetrics? m, int epoch)
    {
        if (m is null) return "is null";
        if (m.Epoch != epoch) return $"is for epoch {m.Epoch}, not {epoch}";
        if (!double.IsFinite(m.TrainLoss)) return $"has a train loss of {m.TrainLoss}";
        if (m.TrainAccuracy is { } train && !IsFraction(train)) return $"has a train accuracy of {train}";
        if (m.TestLoss is { } loss && !double.IsFinite(loss)) return $"has a test loss of {loss}";
        if (m.TestAccuracy is { } accuracy && !IsFraction(accuracy)) return $"has a test accuracy of {accuracy}";
        if (!(double.IsFinite(m.LearningRate) && m.LearningRate >= 0)) return $"has a learning rate of {m.LearningRate}";
        if (!(m.Seconds >= 0) || !(m.SamplesPerSecond >= 0)) return $"has a time of {m.Seconds} s ({m.SamplesPerSecond} samples/s)";
        return null;
    }

    private static bool IsFraction(double v) => v is >= 0 and <= 1;
}
