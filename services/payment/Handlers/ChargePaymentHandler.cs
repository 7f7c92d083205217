using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Payment.Data;
using SagaAspire.Payment.Domain;

namespace SagaAspire.Payment.Handlers;

/// <summary>Charges the customer once per saga; asking again gets the first answer again.</summary>
internal sealed class ChargePaymentHandler(ChargeDecision provider, ILogger<ChargePaymentHandler> logger) : IMessageHandler<ChargePayment>
{
    public const string AlreadyRefunded = "the saga's payment was already refunded";

    public bool ReadsFirst => true;

    public async Task HandleAsync(ChargePayment message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;

        var (payment, refunded) = await PaymentStore.FindAsync(context, cancellationToken);
        if (payment is { } existing)
        {
            PaymentLog.Repeated(logger, nameof(ChargePayment), sagaId, existing.Status);
            context.Send(Topics.PaymentEvents, existing switch
            {
                { Status: PaymentStatus.Charged, PaymentId: { } paymentId } => new PaymentCharged(message.OrderId, paymentId),
                { Status: PaymentStatus.Declined, Reason: { } reason } => new PaymentFailed(message.OrderId, reason),
                _ => new PaymentFailed(message.OrderId, AlreadyRefunded),
            });
            return;
        }

        // The refund overtook this charge: the saga has given up on the payment, so no money moves.
        var outcome = refunded
            ? ChargeOutcome.Declined(AlreadyRefunded)
            : provider.Decide(message);

        if (outcome.DeclineReason is { } declined)
        {
            PaymentStore.Record(context, message, PaymentStatus.Declined, paymentId: null, reason: declined);
            PaymentLog.Declined(logger, sagaId, message.OrderId);
            context.Send(Topics.PaymentEvents, new PaymentFailed(message.OrderId, declined));
            return;
        }

        var charged = $"pay_{Guid.CreateVersion7():N}";
        PaymentStore.Record(context, message, PaymentStatus.Charged, charged, reason: null);
        PaymentLog.Charged(logger, sagaId, message.OrderId, charged);
        context.Send(Topics.PaymentEvents, new PaymentCharged(message.OrderId, charged));
    }
}
