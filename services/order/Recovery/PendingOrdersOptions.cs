namespace SagaAspire.Order.Recovery;

/// <summary>When an order left Pending has its OrderPlaced sent again, from the <c>Orders</c> section.</summary>
public sealed class PendingOrdersOptions
{
    public const string Section = "Orders";

    /// <summary>How long an order stays Pending before its OrderPlaced is sent again (the wait then doubles).</summary>
    public TimeSpan ResendPendingAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between two re-sends of the same order.</summary>
    public TimeSpan ResendMaxInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often orders left Pending are looked for.</summary>
    public TimeSpan ResendScanInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The wait after an order's <paramref name="resends"/>-th re-send: ResendPendingAfter doubled each time, capped.</summary>
    public TimeSpan WaitAfter(int resends)
    {
        var wait = ResendPendingAfter * Math.Pow(2, Math.Min(resends, 30));
        return wait > ResendMaxInterval ? ResendMaxInterval : wait;
    }
}
