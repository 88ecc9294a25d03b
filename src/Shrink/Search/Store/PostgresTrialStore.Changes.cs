using Npgsql;

namespace Shrink.Search;

/// <summary>
/// Pending-trial notifications of a <see cref="PostgresTrialStore"/>: every write that makes a trial pending (a
/// coordinator's <see cref="Add"/>, a <see cref="Release"/>, a <see cref="Recover"/> that gives trials back) sends
/// <c>NOTIFY</c> on the study schema's channel in its transaction (delivered when it commits), and
/// <see cref="NextPending"/> listens on one connection of its own, opened on first use. An idle worker claims a new
/// trial as soon as it is written instead of at its next poll. The listener is a hint: when its connection fails (the
/// server restarting) it reconnects with backoff, and meanwhile the workers' polls carry on.
/// </summary>
public sealed partial class PostgresTrialStore
{
    private readonly Lock _listenerLock = new();
    private PendingListener? _listener;
    private bool _disposed;

    public Task NextPending()
    {
        lock (_listenerLock)
            return _disposed ? TrialStores.Never : (_listener ??= new PendingListener(_source, Channel)).Next;
    }

    /// <summary>
    /// The channel of this store's schema (schema names are checked identifiers): <c>SCHEMA_pending</c>, or for a schema
    /// too long for that within PostgreSQL's 63-byte names, <c>pending_</c> and 32 hex digits of its SHA-256.
    /// </summary>
    private string Channel => _where.Schema.Length <= 55 ? $"{_where.Schema}_pending"
        : $"pending_{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(_where.Schema)))[..32]}";

    /// <summary>Announces a pending trial, delivered when <paramref name="tx"/> commits (never from a scratch scope, whose writes are not kept).</summary>
    private void NotifyPending(NpgsqlConnection c, NpgsqlTransaction tx)
    {
        if (_scratch.Value is null) Execute(c, tx, "SELECT pg_notify(@ch, '')", r => 0, ("ch", Channel));
    }

    private void DisposeListener()
    {
        PendingListener? listener;
        lock (_listenerLock)
        {
            _disposed = true;
            (listener, _listener) = (_listener, null);
        }
        listener?.Dispose();
    }

    /// <summary>One <c>LISTEN</c>ing connection; <see cref="Next"/> completes at the next notification (or reconnection).</summary>
    private sealed class PendingListener : IDisposable
    {
        private readonly NpgsqlDataSource _source;
        private readonly string _channel;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private TaskCompletionSource _signal = NewSignal();

        /// <summary>How long the listening connection may be silent before the server is asked whether it is still there.</summary>
        private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);

        public PendingListener(NpgsqlDataSource source, string channel)
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
                    Fire();   // listening (again): what was written while it was not is looked at now
                    while (true)
                        if (!await c.WaitAsync(Quiet, _stop.Token).ConfigureAwait(false))
                        {
                            // Quiet for a while: a connection dropped without a reset (a NAT, a failover) would wait for
                            // ever, so ask the server; a dead one throws (within the command timeout) and is reopened.
                            await using var ping = new NpgsqlCommand("SELECT 1", c);
                            await ping.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                        }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
                {
                    // The server went away or refused: the workers poll meanwhile; listen again after a pause.
                    try { await Task.Delay(backoff, _stop.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            var ended = false;
            try { ended = _loop.Wait(TimeSpan.FromSeconds(5)); }
            catch (AggregateException) { ended = true; }   // the loop ends by cancellation; nothing to report from a hint
            if (ended) _stop.Dispose();   // else the loop still reads the token; it ends at its next wait
        }
    }
}
