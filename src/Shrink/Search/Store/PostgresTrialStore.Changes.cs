using Npgsql;

namespace Shrink.Search;

/// <summary>
/// Change notifications of a <see cref="PostgresTrialStore"/>: every write that makes a trial pending or finishes one
/// sends <c>NOTIFY</c> on the study schema's channel in its transaction (delivered when it commits), and
/// <see cref="NextChange"/> listens on one connection of its own, opened on first use. Waiting workers claim a new
/// trial as soon as the coordinator writes it, and the coordinator proposes the next as soon as one finishes, instead
/// of at their next poll. The listener is a hint: when its connection fails (the server restarting) it reconnects with
/// backoff, and meanwhile the callers' polls carry on.
/// </summary>
public sealed partial class PostgresTrialStore
{
    private readonly Lock _listenersLock = new();
    private readonly Dictionary<TrialChange, ChangeListener> _listeners = [];

    public Task NextChange(TrialChange change)
    {
        lock (_listenersLock)
        {
            if (_disposed) return TrialChanges.Never;
            if (!_listeners.TryGetValue(change, out var listener))
                _listeners[change] = listener = new ChangeListener(_source, Channel(change));
            return listener.Next;
        }
    }

    /// <summary>The channel of <paramref name="change"/> in this store's schema (schema names are checked identifiers).</summary>
    private string Channel(TrialChange change) => $"{_where.Schema}_{(change == TrialChange.Pending ? "pending" : "finished")}";

    /// <summary>Sends the notification of <paramref name="change"/>, delivered when <paramref name="tx"/> commits.</summary>
    private void Notify(NpgsqlConnection c, NpgsqlTransaction tx, TrialChange change) =>
        Execute(c, tx, "SELECT pg_notify(@ch, '')", r => 0, ("ch", Channel(change)));

    private void DisposeListeners()
    {
        ChangeListener[] listeners;
        lock (_listenersLock)
        {
            _disposed = true;
            listeners = [.. _listeners.Values];
            _listeners.Clear();
        }
        foreach (var l in listeners) l.Dispose();
    }

    private bool _disposed;

    /// <summary>One <c>LISTEN</c>ing connection; <see cref="Next"/> completes at the next notification (or reconnection).</summary>
    private sealed class ChangeListener : IDisposable
    {
        private readonly NpgsqlDataSource _source;
        private readonly string _channel;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private TaskCompletionSource _signal = NewSignal();

        public ChangeListener(NpgsqlDataSource source, string channel)
        {
            (_source, _channel) = (source, channel);
            _loop = Task.Run(ListenAsync);
        }

        public Task Next => Volatile.Read(ref _signal).Task;

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

        private void Fire() => Interlocked.Exchange(ref _signal, NewSignal()).TrySetResult();

        private async Task ListenAsync()
        {
            var backoff = TimeSpan.FromMilliseconds(200);
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await using var c = await _source.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
                    c.Notification += (_, _) => Fire();
                    await using (var listen = new NpgsqlCommand($"LISTEN \"{_channel}\"", c))
                        await listen.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                    backoff = TimeSpan.FromMilliseconds(200);
                    Fire();   // listening (again): what changed while it was not is looked at now
                    while (true) await c.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
                {
                    // The server went away or refused: the callers poll meanwhile; listen again after a pause.
                    try { await Task.Delay(backoff, _stop.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            try { _loop.Wait(TimeSpan.FromSeconds(5)); }
            catch (AggregateException) { }   // the loop ends by cancellation; nothing to report from a hint
            _stop.Dispose();
        }
    }
}
