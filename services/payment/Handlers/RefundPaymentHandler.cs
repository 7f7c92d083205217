using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Payment.Data;

namespace SagaAspire.Payment.Handlers;

/// <summary>Refunds the saga's charge once; always answers refunded, with what was given back.</summary>
internal sealed class RefundPaymentHandler(ILogger<RefundPaymentHandler> logger) : IMessageHandler<RefundPayment>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(RefundPayment message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;

        var refunded = 0m;
        switch ((await PaymentStore.FindAsync(context, cancellationToken)).Payment)
        {
            case null:
                // The refund overtook its charge (or the charge never came): the tombstone declines that charge later.
                PaymentStore.RecordTombstone(context);
                PaymentLog.RefundedBeforeCharge(logger, sagaId, message.OrderId);
                break;
            case { Status: PaymentStatus.Charged } payment:
                PaymentStore.Refund(context, payment.Amount);
                refunded = payment.Amount;
                PaymentLog.Refunded(logger, sagaId, message.OrderId, refunded);
                break;
            case { Status: PaymentStatus.Refunded } payment:
                refunded = payment.Amount;
                PaymentLog.Repeated(logger, nameof(RefundPayment), sagaId, payment.Status);
                break;
            case { } payment:
                PaymentLog.Repeated(logger, nameof(RefundPayment), sagaId, payment.Status);
                break;
        }
        context.Send(Topics.PaymentEvents, new PaymentRefunded(message.OrderId, refunded));
    }
}
