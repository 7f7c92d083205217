using SagaAspire.Contracts;
using SagaAspire.Delivery.Data;
using SagaAspire.Messaging;

namespace SagaAspire.Delivery.Handlers;

/// <summary>Cancels the saga's delivery once and frees its place on the day; always answers cancelled.</summary>
internal sealed class CancelDeliveryHandler(ILogger<CancelDeliveryHandler> logger) : IMessageHandler<CancelDelivery>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(CancelDelivery message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;

        switch (await DeliveryStore.FindAsync(context, cancellationToken))
        {
            case null:
                // The cancel overtook its schedule (or the schedule never came): the tombstone refuses that schedule later.
                DeliveryStore.RecordTombstone(context, message.OrderId);
                DeliveryLog.CancelledBeforeSchedule(logger, sagaId, message.OrderId);
                break;
            case { Status: DeliveryStatus.Scheduled, Country: { } country, Day: { } day }:
                DeliveryStore.Cancel(context, country, day);
                DeliveryLog.Cancelled(logger, sagaId, message.OrderId, day);
                break;
            case { } delivery:
                DeliveryLog.Repeated(logger, nameof(CancelDelivery), sagaId, delivery.Status);
                break;
        }
        context.Send(Topics.DeliveryEvents, new DeliveryCancelled(message.OrderId));
    }
}
