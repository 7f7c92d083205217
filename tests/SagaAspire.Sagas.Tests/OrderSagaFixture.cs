namespace SagaAspire.Sagas.Tests;

public sealed record Order(string OrderId, decimal Amount);

public sealed record Reserve(string OrderId);
public sealed record Reserved(string OrderId);
public sealed record ReservationFailed(string OrderId, string Reason);
public sealed record Release(string OrderId);
public sealed record Released(string OrderId);
public sealed record Charge(string OrderId, decimal Amount);
public sealed record Charged(string OrderId);
public sealed record ChargeFailed(string OrderId, string Reason);
public sealed record Refund(string OrderId);
public sealed record Refunded(string OrderId);
public sealed record Ship(string OrderId);
public sealed record Shipped(string OrderId);
public sealed record ShippingFailed(string OrderId, string Reason);
public sealed record SagaSucceeded(string OrderId);
public sealed record SagaFailed(string OrderId, string Reason);

/// <summary>The order saga's shape, declared as the orchestrator declares it, with short timeouts.</summary>
public static class OrderSagaFixture
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    public static readonly Order AnOrder = new("o-1", 42m);

    public static SagaStep<Order> Inventory => new("inventory", "inventory.commands", o => new Reserve(o.OrderId),
        typeof(Reserved), typeof(ReservationFailed), r => ((ReservationFailed)r).Reason, new RetryPolicy(3, TimeSpan.FromSeconds(10)))
    {
        CompensationTopic = "inventory.commands", Compensation = o => new Release(o.OrderId), CompensatedBy = typeof(Released),
        CompensationRetry = new RetryPolicy(4, TimeSpan.FromSeconds(10)),
    };

    public static SagaStep<Order> Payment => new("payment", "payments.commands", o => new Charge(o.OrderId, o.Amount),
        typeof(Charged), typeof(ChargeFailed), r => ((ChargeFailed)r).Reason, new RetryPolicy(3, TimeSpan.FromSeconds(10)))
    {
        CompensationTopic = "payments.commands", Compensation = o => new Refund(o.OrderId), CompensatedBy = typeof(Refunded),
        CompensationRetry = new RetryPolicy(4, TimeSpan.FromSeconds(10)),
    };

    public static SagaStep<Order> Shipping => new("shipping", "shipping.commands", o => new Ship(o.OrderId),
        typeof(Shipped), typeof(ShippingFailed), r => ((ShippingFailed)r).Reason, new RetryPolicy(3, TimeSpan.FromSeconds(10)));

    public static SagaDefinition<Order> Define(params SagaStep<Order>[] steps) =>
        new("order", steps, "orchestrator.events", o => new SagaSucceeded(o.OrderId), (o, reason) => new SagaFailed(o.OrderId, reason));

    public static SagaDefinition<Order> OrderSaga => Define(Inventory, Payment);

    /// <summary>Ids in a recognisable sequence, so tests can tell a resend from a new command.</summary>
    public static Func<Guid> Ids()
    {
        var next = 0;
        return () => new Guid(++next, 0, 0, new byte[8]);
    }
}
