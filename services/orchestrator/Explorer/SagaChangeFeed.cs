using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Npgsql;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Explorer;

/// <summary>A saga that changed, and its status after the change.</summary>
public sealed record SagaChange(string SagaId, string Status);

/// <summary>
/// Live saga changes for the Saga Explorer. While at least one page is open, one loop per process
/// reads the sagas updated since its last look (twice a second, from the sagas table, so changes
/// made by any replica show) and hands them to every open page in one batch. Nothing is read,
/// and saga transactions pay nothing, while no page is open. (A NOTIFY per saga transition would
/// have serialized the commits of every notifying transaction in the server.) A page that falls
/// behind, or may have missed changes, is told to reload instead.
/// </summary>
internal sealed partial class SagaChangeFeed(NpgsqlDataSource dataSource, TimeProvider time, ILogger<SagaChangeFeed> logger) : BackgroundService
{
    private const int MaxBatch = 200;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    // updated_at is the orchestrator's clock when the change was decided, and the change becomes
    // visible at its commit, a little later: each look reaches back this far, and changes already
    // passed on are recognised by their version.
    private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(2);
    private static readonly string[] Statuses = Enum.GetNames<SagaStatus>();
    private readonly ConcurrentDictionary<Subscriber, byte> _subscribers = new();
    private readonly SemaphoreSlim _firstSubscriber = new(0);

    /// <summary>The stream one Explorer page reads: "ready" first, then "sagas" batches and "reload" hints.</summary>
    public async IAsyncEnumerable<SseItem<IReadOnlyList<SagaChange>>> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var subscriber = new Subscriber();
        _subscribers.TryAdd(subscriber, 0);
        _firstSubscriber.Release();
        try
        {
            yield return new SseItem<IReadOnlyList<SagaChange>>([], "ready");
            while (await subscriber.Changes.Reader.WaitToReadAsync(cancellationToken))
            {
                var latest = new Dictionary<string, SagaChange>();
                while (subscriber.Changes.Reader.TryRead(out var change)) latest[change.SagaId] = change;
                if (Interlocked.Exchange(ref subscriber.Missed, 0) == 1 || latest.Count > MaxBatch)
                    yield return new SseItem<IReadOnlyList<SagaChange>>([], "reload");
                else if (latest.Count > 0)
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
        while (!stoppingToken.IsCancellationRequested)
        {
            await _firstSubscriber.WaitAsync(stoppingToken);
            while (_firstSubscriber.CurrentCount > 0) _firstSubscriber.Wait(0);
            if (_subscribers.IsEmpty) continue;
            await FollowWhileWatchedAsync(stoppingToken);
        }
    }

    /// <summary>Reads changes until the last page closes; each page loaded the sagas itself when it opened.</summary>
    private async Task FollowWhileWatchedAsync(CancellationToken stoppingToken)
    {
        var since = time.GetUtcNow();
        var passedOn = new Dictionary<string, (int Version, DateTimeOffset UpdatedAt)>();
        var failing = false;
        while (!_subscribers.IsEmpty && !stoppingToken.IsCancellationRequested)
        {
            try
            {
                var changes = await ReadChangesAsync(since - Overlap, stoppingToken);
                if (failing) Announce(null); // whatever changed while the database was away was not seen
                failing = false;
                if (changes.Count > MaxBatch)
                {
                    Announce(null);
                    since = changes[^1].UpdatedAt;
                    passedOn.Clear();
                }
                else
                {
                    var fresh = new List<SagaChange>();
                    foreach (var (sagaId, status, version, updatedAt) in changes)
                    {
                        if (passedOn.TryGetValue(sagaId, out var known) && known.Version >= version) continue;
                        passedOn[sagaId] = (version, updatedAt);
                        fresh.Add(new SagaChange(sagaId, status));
                        if (updatedAt > since) since = updatedAt;
                    }
                    foreach (var (sagaId, known) in passedOn.Where(p => p.Value.UpdatedAt < since - Overlap).ToList()) passedOn.Remove(sagaId);
                    if (fresh.Count > 0) Announce(fresh);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                if (!failing) Log.ReadFailed(logger, ex);
                failing = true;
            }
            await Task.Delay(PollInterval, time, stoppingToken);
        }
    }

    private async Task<List<(string SagaId, string Status, int Version, DateTimeOffset UpdatedAt)>> ReadChangesAsync(DateTimeOffset after, CancellationToken cancellationToken)
    {
        // status = ANY(every status) lets the (status, updated_at) index serve the range.
        await using var command = dataSource.CreateCommand(
            "SELECT saga_id, status, version, updated_at FROM sagas WHERE status = ANY($1) AND updated_at > $2 ORDER BY updated_at LIMIT $3");
        command.Parameters.Add(new() { Value = Statuses });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = MaxBatch + 1 });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var changes = new List<(string, string, int, DateTimeOffset)>();
        while (await reader.ReadAsync(cancellationToken))
            changes.Add((reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<DateTimeOffset>(3)));
        return changes;
    }

    /// <summary>Hands changes to every open page; null tells them to reload.</summary>
    private void Announce(List<SagaChange>? changes)
    {
        foreach (var subscriber in _subscribers.Keys)
        {
            if (changes is null)
            {
                Interlocked.Exchange(ref subscriber.Missed, 1);
                subscriber.Changes.Writer.TryWrite(new SagaChange("", ""));
                continue;
            }
            foreach (var change in changes)
                if (!subscriber.Changes.Writer.TryWrite(change)) Interlocked.Exchange(ref subscriber.Missed, 1);
        }
    }

    private sealed class Subscriber
    {
        // Full: TryWrite fails, and the page is told to reload.
        public readonly Channel<SagaChange> Changes = Channel.CreateBounded<SagaChange>(
            new BoundedChannelOptions(4 * MaxBatch) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        public int Missed;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "Reading saga changes failed; the Saga Explorer's live updates pause until the database answers")]
        public static partial void ReadFailed(ILogger logger, Exception exception);
    }
}
