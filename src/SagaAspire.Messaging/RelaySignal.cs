namespace SagaAspire.Messaging;

/// <summary>
/// Wakes the outbox relay of this process. While the relay here leads, writers in this process
/// signal it directly instead of sending a NOTIFY through the database (a transaction per
/// wake-up, which at saga rates was a quarter of all transactions); writers elsewhere still
/// NOTIFY, and the leader's listening connection turns that into the same signal.
/// </summary>
internal sealed class RelaySignal
{
    private readonly SemaphoreSlim _wakeUp = new(0, 1);
    private volatile bool _leaderHere;

    /// <summary>Whether the relay of this process is the leader (set by the relay).</summary>
    public bool LeaderHere
    {
        get => _leaderHere;
        set => _leaderHere = value;
    }

    /// <summary>Asks the relay to read the outbox again; wake-ups before it next waits count once.</summary>
    public void Set()
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

    /// <summary>Waits for a wake-up or the poll interval, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wakeUp.WaitAsync(timeout, cancellationToken);
}
