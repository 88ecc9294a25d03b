namespace Shrink.Search;

/// <summary>
/// How long a polling loop of a distributed study waits before it looks again: a quarter of the median duration of the
/// last trials it saw finish, at least <see cref="Floor"/> and never more than the configured interval (the interval
/// itself until a trial has finished; an interval under the floor is kept). Slots freed together — short trials started
/// together end together — then find their next trials written by the coordinator, and claimed by the workers, well
/// before those end again: with a fixed 500 ms coordinator poll and 0.5 s trials the refill raced the next completions,
/// and a worker that found the queue empty slept its whole 250 ms poll. Long trials keep the configured intervals, so the
/// store is not read more often than it was.
/// </summary>
internal sealed class AdaptivePoll(TimeSpan interval)
{
    /// <summary>The shortest wait.</summary>
    public static readonly TimeSpan Floor = TimeSpan.FromMilliseconds(50);

    private const int Window = 16;
    private readonly Queue<double> _recent = new();

    /// <summary>Counts a finished trial's duration in seconds.</summary>
    public void Add(double? seconds)
    {
        if (seconds is not { } s || !double.IsFinite(s) || s < 0) return;
        _recent.Enqueue(s);
        if (_recent.Count > Window) _recent.Dequeue();
    }

    /// <summary>The wait before the next look.</summary>
    public TimeSpan Next
    {
        get
        {
            if (_recent.Count == 0) return interval;
            var sorted = _recent.Order().ToArray();
            var quarter = TimeSpan.FromSeconds(sorted[sorted.Length / 2] / 4);
            var floored = quarter < Floor ? Floor : quarter;
            return floored > interval ? interval : floored;   // never longer than configured, even when that is under the floor
        }
    }
}
