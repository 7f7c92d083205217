using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Sagas;

namespace SagaAspire.Orchestrator.Handlers;

/// <summary>A placed order starts its saga (once: a second OrderPlaced for the saga changes nothing).</summary>
internal sealed class OrderPlacedHandler(SagaCoordinator sagas, ILogger<OrderPlacedHandler> logger) : IMessageHandler<OrderPlaced>
{
    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        if (!await sagas.StartAsync(context.Transaction, context.Envelope.SagaId, message, context.Envelope.MessageId, cancellationToken))
            OrchestratorLog.SagaAlreadyStarted(logger, context.Envelope.SagaId, message.OrderId);
    }
}
