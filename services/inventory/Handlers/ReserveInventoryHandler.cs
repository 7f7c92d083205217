using SagaAspire.Contracts;
using SagaAspire.Inventory.Data;
using SagaAspire.Inventory.Domain;
using SagaAspire.Messaging;

namespace SagaAspire.Inventory.Handlers;

/// <summary>Reserves every line of an order, or nothing; a saga is answered the same way every time it asks.</summary>
internal sealed class ReserveInventoryHandler(CatalogSeeder catalog, ILogger<ReserveInventoryHandler> logger) : IMessageHandler<ReserveInventory>
{
    public const string AlreadyReleased = "the saga's reservation was already released";

    public bool ReadsFirst => true;

    public async Task HandleAsync(ReserveInventory message, MessageContext context, CancellationToken cancellationToken)
    {
        await catalog.Seeded.WaitAsync(cancellationToken);
        var sagaId = context.Envelope.SagaId;

        var (reservation, available) = await InventoryStore.FindReservationLockingProductsAsync(context, message.Lines.Select(l => l.Sku), cancellationToken);
        if (reservation is { } existing)
        {
            InventoryLog.Repeated(logger, nameof(ReserveInventory), sagaId, existing.Status);
            // A reserve that arrives after the release (late, or resent) must never take stock the saga gave up.
            // A repeated refusal keeps its original reason.
            context.Send(Topics.InventoryEvents, existing.Status switch
            {
                ReservationStatus.Reserved or ReservationStatus.Committed => new InventoryReserved(message.OrderId),
                ReservationStatus.Rejected => new InventoryReservationFailed(message.OrderId, existing.Reason ?? AlreadyReleased),
                _ => new InventoryReservationFailed(message.OrderId, AlreadyReleased),
            });
            return;
        }

        var verdict = StockDecision.Decide(message.Lines, available);
        if (verdict.Refusal is { } refusal)
        {
            InventoryStore.RecordReservation(context, message.OrderId, ReservationStatus.Rejected, message.Lines, refusal);
            InventoryLog.Refused(logger, sagaId, message.OrderId, refusal);
            context.Send(Topics.InventoryEvents, new InventoryReservationFailed(message.OrderId, refusal));
            return;
        }

        InventoryStore.MoveStock(context, verdict.Reserve, StockMove.Reserve, lockedAlready: true);
        InventoryStore.RecordReservation(context, message.OrderId, ReservationStatus.Reserved, verdict.Reserve, null);
        InventoryLog.Reserved(logger, sagaId, message.OrderId, verdict.Reserve.Sum(l => l.Quantity), verdict.Reserve.Count);
        context.Send(Topics.InventoryEvents, new InventoryReserved(message.OrderId));
    }
}
