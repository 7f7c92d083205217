using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Order.Data;

namespace SagaAspire.Order.Handlers;

/// <summary>The saga's outcome makes a Pending order Approved, with its delivery (a repeat changes nothing).</summary>
internal sealed class OrderApprovedHandler(ILogger<OrderApprovedHandler> logger) : IMessageHandler<OrderApproved>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(OrderApproved message, MessageContext context, CancellationToken cancellationToken)
    {
        if (!await OrderStore.ConcludeAsync(context, message.OrderId, "Approved", null, message.Delivery, cancellationToken))
            OrderLog.AlreadyConcluded(logger, message.OrderId, "Approved");
    }
}

/// <summary>The saga's outcome makes a Pending order Rejected, with the reason.</summary>
internal sealed class OrderRejectedHandler(ILogger<OrderRejectedHandler> logger) : IMessageHandler<OrderRejected>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(OrderRejected message, MessageContext context, CancellationToken cancellationToken)
    {
        if (!await OrderStore.ConcludeAsync(context, message.OrderId, "Rejected", message.Reason, null, cancellationToken))
            OrderLog.AlreadyConcluded(logger, message.OrderId, "Rejected");
    }
}
