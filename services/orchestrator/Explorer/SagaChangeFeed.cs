using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Npgsql;

namespace SagaAspire.Orchestrator.Explorer;

/// <summary>A saga that changed, and its status after the change.</summary>
public sealed record SagaChange(string SagaId, string Status);

/// <summary>
/// Live saga changes for the Saga Explorer. A trigger on <c>sagas</c> sends a notification when
/// a change commits, whichever replica made it; one connection per process listens, and every
/// subscriber (an open Explorer page) gets the changes in batches of at most four a second.
/// When a subscriber falls behind, or the listening connection was lost and changes may have
/// been missed, the subscriber is told to reload instead.
/// </summary>
internal sealed partial class SagaChangeFeed(NpgsqlDataSource dataSource, ILogger<SagaChangeFeed> logger) : BackgroundService
{
    public const string Channel = "saga_changes";
    private const int MaxBatch = 200;
    private static readonly TimeSpan BatchInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<Subscriber, byte> _subscribers = new();

    /// <summary>The stream one Explorer page reads: "ready" first, then "sagas" batches and "reload" hints.</summary>
    public async IAsyncEnumerable<SseItem<IReadOnlyList<SagaChange>>> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var subscriber = new Subscriber();
        _subscribers.TryAdd(subscriber, 0);
        try
        {
            yield return new SseItem<IReadOnlyList<SagaChange>>([], "ready");
            while (await subscriber.Changes.Reader.WaitToReadAsync(cancellationToken))
            {
                await Task.Delay(BatchInterval, cancellationToken);
                var latest = new Dictionary<string, SagaChange>();
                while (subscriber.Changes.Reader.TryRead(out var change)) latest[change.SagaId] = change;
                if (Interlocked.Exchange(ref subscriber.Missed, 0) == 1 || latest.Count > MaxBatch)
                    yield return new SseItem<IReadOnlyList<SagaChange>>([], "reload");
                else
                    yield return new SseItem<IReadOnlyList<SagaChange>>([.. latest.Values], "sagas");
            }
        }
        finally
        {
            _subscribers.TryRemove(subscriber, out _);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = TimeSpan.FromSeconds(1);
        var connectedBefore = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => Announce(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                if (connectedBefore) MissedChanges(); // whatever changed while we were away was not announced
                connectedBefore = true;
                retry = TimeSpan.FromSeconds(1);
                while (true)
                {
                    // Waiting alone would never notice a connection that silently died.
                    if (!await connection.WaitAsync(IdleCheck, stoppingToken))
                        await using (var ping = new NpgsqlCommand("SELECT 1", connection)) await ping.ExecuteScalarAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                Log.ListenFailed(logger, ex, retry.TotalSeconds);
                await Task.Delay(retry, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private void Announce(string payload)
    {
        var space = payload.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0) return;
        var change = new SagaChange(payload[..space], payload[(space + 1)..]);
        foreach (var subscriber in _subscribers.Keys)
            if (!subscriber.Changes.Writer.TryWrite(change)) Interlocked.Exchange(ref subscriber.Missed, 1);
    }

    private void MissedChanges()
    {
        foreach (var subscriber in _subscribers.Keys)
        {
            Interlocked.Exchange(ref subscriber.Missed, 1);
            subscriber.Changes.Writer.TryWrite(new SagaChange("", ""));
        }
    }

    private sealed class Subscriber
    {
        public readonly Channel<SagaChange> Changes = System.Threading.Channels.Channel.CreateBounded<SagaChange>(
            new BoundedChannelOptions(4 * MaxBatch) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true }); // full: TryWrite fails, and the page reloads
        public int Missed;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "Listening for saga changes failed; the Saga Explorer's live updates pause, retrying in {Seconds} s")]
        public static partial void ListenFailed(ILogger logger, Exception exception, double seconds);
    }
}
