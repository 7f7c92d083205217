using SagaAspire.Contracts;
using SagaAspire.Inventory.Data;
using SagaAspire.Messaging;

namespace SagaAspire.Inventory.Handlers;

/// <summary>Turns the saga's reserved units into sold ones.</summary>
internal sealed class CommitInventoryHandler(ILogger<CommitInventoryHandler> logger) : IMessageHandler<CommitInventory>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(CommitInventory message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;

        switch (await InventoryStore.FindReservationAsync(context, cancellationToken))
        {
            case { Status: ReservationStatus.Reserved } reservation:
                InventoryStore.MoveStock(context, reservation.Lines, StockMove.Commit);
                InventoryStore.SetStatus(context, ReservationStatus.Committed);
                InventoryLog.Committed(logger, sagaId, message.OrderId);
                break;
            case { Status: ReservationStatus.Committed }:
                InventoryLog.Repeated(logger, nameof(CommitInventory), sagaId, ReservationStatus.Committed);
                break;
            case null:
                throw new InvalidMessageException($"Saga {sagaId} has no reservation to commit; only reserved stock can be sold.");
            case { } reservation:
                // Answering committed would tell the saga that stock was sold which is not held.
                throw new InvalidMessageException($"Saga {sagaId}'s reservation is {reservation.Status}; only reserved stock can be sold.");
        }
        context.Send(Topics.InventoryEvents, new InventoryCommitted(message.OrderId));
    }
}
