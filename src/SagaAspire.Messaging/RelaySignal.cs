using System.Collections.Concurrent;

namespace SagaAspire.Messaging;

/// <summary>
/// Wakes the outbox relay of this process. While the relay here leads, writers in this process
/// hand it the rows they have just committed (<see cref="Hand"/>), which it publishes without
/// reading them back from the table; writers elsewhere NOTIFY through the database, and the
/// leader's listening connection turns that into a request to read the table
/// (<see cref="RequestRead"/>).
/// </summary>
internal sealed class RelaySignal
{
    /// <summary>
    /// Most rows waiting in memory for the relay. Should it fall this far behind (a broker that
    /// does not answer), later rows are left to its next read of the table, where they are anyway.
    /// </summary>
    internal const int MostHandedRows = 10_000;

    private readonly SemaphoreSlim _wakeUp = new(0, 1);
    private readonly ConcurrentQueue<OutboxRelay.Row> _handed = new();
    private int _handedCount;
    private int _readRequested;
    private volatile bool _leaderHere;

    /// <summary>Whether the relay of this process is the leader (set by the relay).</summary>
    public bool LeaderHere
    {
        get => _leaderHere;
        set => _leaderHere = value;
    }

    /// <summary>Whether the relay publishes rows handed to it (<see cref="MessagingOptions.RelayHandOver"/>) or reads every row from the table.</summary>
    public bool TakesRows { get; set; } = true;

    /// <summary>Rows committed in this process, in id order, for the relay to publish as they are.</summary>
    public void Hand(IReadOnlyList<OutboxRelay.Row> rows)
    {
        if (!TakesRows)
        {
            RequestRead();
            return;
        }
        if (Interlocked.Add(ref _handedCount, rows.Count) > MostHandedRows)
        {
            Interlocked.Add(ref _handedCount, -rows.Count);
            RequestRead();
            return;
        }
        foreach (var row in rows) _handed.Enqueue(row);
        Wake();
    }

    /// <summary>Asks the relay to read the outbox table: rows were committed that it was not handed.</summary>
    public void RequestRead()
    {
        Volatile.Write(ref _readRequested, 1);
        Wake();
    }

    /// <summary>The rows handed over since the last call.</summary>
    public List<OutboxRelay.Row> TakeHanded()
    {
        var rows = new List<OutboxRelay.Row>();
        while (_handed.TryDequeue(out var row)) rows.Add(row);
        Interlocked.Add(ref _handedCount, -rows.Count);
        return rows;
    }

    /// <summary>Whether a read of the table was asked for since the last call.</summary>
    public bool TakeReadRequest() => Interlocked.Exchange(ref _readRequested, 0) == 1;

    /// <summary>Waits for a wake-up or the timeout, whichever comes first; wake-ups before the wait count once.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wakeUp.WaitAsync(timeout, cancellationToken);

    private void Wake()
    {
        try
        {
            _wakeUp.Release();
        }
        catch (SemaphoreFullException)
        {
            // a wake-up is pending already
        }
    }
}
