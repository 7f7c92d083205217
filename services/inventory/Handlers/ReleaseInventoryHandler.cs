using SagaAspire.Contracts;
using SagaAspire.Inventory.Data;
using SagaAspire.Messaging;

namespace SagaAspire.Inventory.Handlers;

/// <summary>Gives back what the saga holds; always answers released, because afterwards the saga holds nothing.</summary>
internal sealed class ReleaseInventoryHandler(ILogger<ReleaseInventoryHandler> logger) : IMessageHandler<ReleaseInventory>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(ReleaseInventory message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;

        switch (await InventoryStore.FindReservationAsync(context, cancellationToken))
        {
            case null:
                // The release overtook its reserve (or the reserve never came): the tombstone refuses that reserve later.
                InventoryStore.RecordReservation(context, message.OrderId, ReservationStatus.Released, [], "released before any reservation");
                InventoryLog.ReleasedBeforeReserve(logger, sagaId, message.OrderId);
                break;
            case { Status: ReservationStatus.Reserved } reservation:
                InventoryStore.MoveStock(context, reservation.Lines, StockMove.Release);
                InventoryStore.SetStatus(context, ReservationStatus.Released);
                InventoryLog.Released(logger, sagaId, message.OrderId);
                break;
            case { Status: ReservationStatus.Committed }:
                // The saga never compensates a committed step; sold stock is not silently taken back.
                InventoryLog.ReleaseAfterCommit(logger, sagaId, message.OrderId);
                break;
            case { } reservation:
                InventoryLog.Repeated(logger, nameof(ReleaseInventory), sagaId, reservation.Status);
                break;
        }
        context.Send(Topics.InventoryEvents, new InventoryReleased(message.OrderId));
    }
}
