using SagaAspire.Contracts;
using SagaAspire.Delivery.Data;
using SagaAspire.Delivery.Domain;
using SagaAspire.Messaging;

namespace SagaAspire.Delivery.Handlers;

/// <summary>Books one delivery per saga on the earliest day with room; asking again gets the first answer again.</summary>
internal sealed class ScheduleDeliveryHandler(AreaSeeder areas, DeliveryDecision courier, TimeProvider time, ILogger<ScheduleDeliveryHandler> logger)
    : IMessageHandler<ScheduleDelivery>
{
    public const string AlreadyCancelled = "the saga's delivery was already cancelled";
    public const string NoAddress = "the order has no delivery address";

    public bool ReadsFirst => true;

    public async Task HandleAsync(ScheduleDelivery message, MessageContext context, CancellationToken cancellationToken)
    {
        await areas.Seeded.WaitAsync(cancellationToken);
        var sagaId = context.Envelope.SagaId;

        var (found, serves) = await DeliveryStore.FindServingAsync(context, message.Address?.Country, cancellationToken);
        if (found is { } existing)
        {
            DeliveryLog.Repeated(logger, nameof(ScheduleDelivery), sagaId, existing.Status);
            context.Send(Topics.DeliveryEvents, existing switch
            {
                { Status: DeliveryStatus.Scheduled, DeliveryId: { } id, Day: { } booked } => new DeliveryScheduled(message.OrderId, new DeliveryBooking(id, booked)),
                { Status: DeliveryStatus.Refused, Reason: { } reason } => new DeliveryRefused(message.OrderId, reason),
                _ => new DeliveryRefused(message.OrderId, AlreadyCancelled),
            });
            return;
        }

        var (first, last) = courier.BookableDays(time.GetUtcNow());
        var refusal = message.Address switch
        {
            null => NoAddress,
            { Country: var country } when !serves => $"we do not deliver to {country}",
            _ => courier.RandomRefusal(),
        };
        var day = refusal is null ? await DeliveryStore.BookSlotAsync(context, message.Address!.Country, first, last, cancellationToken) : null;
        if (refusal is null && day is null) refusal = $"no delivery slot free in {message.Address!.Country} from {first:yyyy-MM-dd} to {last:yyyy-MM-dd}";

        if (refusal is not null)
        {
            DeliveryStore.Record(context, message, DeliveryStatus.Refused, deliveryId: null, day: null, refusal);
            DeliveryLog.Refused(logger, sagaId, message.OrderId);
            context.Send(Topics.DeliveryEvents, new DeliveryRefused(message.OrderId, refusal));
            return;
        }

        var booking = new DeliveryBooking($"dlv_{Guid.CreateVersion7():N}", day!.Value);
        DeliveryStore.Record(context, message, DeliveryStatus.Scheduled, booking.DeliveryId, booking.Date, reason: null);
        DeliveryLog.Scheduled(logger, sagaId, message.OrderId, booking.DeliveryId, booking.Date);
        context.Send(Topics.DeliveryEvents, new DeliveryScheduled(message.OrderId, booking));
    }
}
