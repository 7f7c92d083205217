using System.Text.Json;
using SagaAspire.Contracts;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Sagas;

/// <summary>
/// The order saga, declared: reserve stock, charge the payment, book the delivery, then make the
/// reservation a permanent decrement. A failed step undoes the completed ones in reverse order: a
/// delivery refused refunds the payment, then releases the stock. Another step is one more
/// declaration here and a service that answers it.
/// </summary>
public static class OrderSaga
{
    public const string Name = "order";
    public const string DeliveryStep = "delivery";

    public static SagaDefinition<OrderPlaced> Define(OrchestratorOptions options)
    {
        var step = new RetryPolicy(options.StepAttempts, options.StepTimeout);
        var compensation = new RetryPolicy(options.CompensationAttempts, options.CompensationTimeout, 2, TimeSpan.FromMinutes(2));
        return new SagaDefinition<OrderPlaced>(Name,
        [
            new SagaStep<OrderPlaced>("inventory", Topics.InventoryCommands,
                order => new ReserveInventory(order.OrderId, [.. order.Lines.Select(l => new StockLine(l.Sku, l.Quantity))]),
                typeof(InventoryReserved), typeof(InventoryReservationFailed), reply => ((InventoryReservationFailed)reply).Reason, step)
            {
                CompensationTopic = Topics.InventoryCommands,
                Compensation = order => new ReleaseInventory(order.OrderId),
                CompensatedBy = typeof(InventoryReleased),
                CompensationRetry = compensation,
            },
            new SagaStep<OrderPlaced>("payment", Topics.PaymentCommands,
                order => new ChargePayment(order.OrderId, order.CustomerId, order.Total, order.Currency),
                typeof(PaymentCharged), typeof(PaymentFailed), reply => ((PaymentFailed)reply).Reason, step)
            {
                CompensationTopic = Topics.PaymentCommands,
                Compensation = order => new RefundPayment(order.OrderId),
                CompensatedBy = typeof(PaymentRefunded),
                CompensationRetry = compensation,
            },
            new SagaStep<OrderPlaced>(DeliveryStep, Topics.DeliveryCommands,
                order => new ScheduleDelivery(order.OrderId, order.Address),
                typeof(DeliveryScheduled), typeof(DeliveryRefused), reply => ((DeliveryRefused)reply).Reason, step)
            {
                CompensationTopic = Topics.DeliveryCommands,
                Compensation = order => new CancelDelivery(order.OrderId),
                CompensatedBy = typeof(DeliveryCancelled),
                CompensationRetry = compensation,
                // The booking travels to the order with the saga's outcome.
                Result = reply => JsonSerializer.Serialize(((DeliveryScheduled)reply).Booking, ContractsJson.Default.DeliveryBooking),
            },
            // Irreversible and never refused: the stock is already held for this saga.
            new SagaStep<OrderPlaced>("stock", Topics.InventoryCommands,
                order => new CommitInventory(order.OrderId), typeof(InventoryCommitted), FailedBy: null, FailureReason: null, step),
        ],
        Topics.OrchestratorEvents,
        (order, results) => new OrderApproved(order.OrderId, results.TryGetValue(DeliveryStep, out var booking)
            ? JsonSerializer.Deserialize(booking, ContractsJson.Default.DeliveryBooking)
            : null),
        (order, reason) => new OrderRejected(order.OrderId, reason));
    }
}
