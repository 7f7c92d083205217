using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Data;
using SagaAspire.Orchestrator.Sagas;

namespace SagaAspire.Orchestrator.Handlers;

/// <summary>
/// A placed order starts its saga. The order service sends OrderPlaced again while its order stays
/// Pending: for a saga that has ended, that means the outcome never reached the order, so it is
/// sent again; a saga still running changes nothing (its own timeouts drive it).
/// </summary>
internal sealed class OrderPlacedHandler(SagaCoordinator sagas, ILogger<OrderPlacedHandler> logger) : IMessageHandler<OrderPlaced>
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;
        if (await SagaStore.LoadForUpdateAsync(context, sagaId, cancellationToken) is not { } stored)
        {
            await sagas.StartAsync(context.Transaction, sagaId, message, context.Envelope.MessageId, cancellationToken);
            return;
        }

        var decision = await sagas.ApplyAsync(context.Transaction, stored,
            (state, data, now) => sagas.Definition.Restate(state, data, now, Guid.CreateVersion7),
            context.Envelope.MessageId, spanInSagaTrace: null, cancellationToken);
        if (decision is { Send.Count: > 0 }) OrchestratorLog.OutcomeResent(logger, sagaId, message.OrderId, decision.State.Status.ToString());
        else OrchestratorLog.SagaAlreadyStarted(logger, sagaId, message.OrderId);
    }
}
