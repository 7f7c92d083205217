using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Data;
using SagaAspire.Orchestrator.Sagas;

namespace SagaAspire.Orchestrator.Handlers;

/// <summary>
/// Every participant's answer goes the same way: the saga's pure decision for (state, reply).
/// Late and duplicate answers are recorded in the timeline and change nothing.
/// </summary>
internal sealed class SagaReplyHandler<TReply>(SagaCoordinator sagas, ILogger<SagaReplyHandler<TReply>> logger) : IMessageHandler<TReply>
    where TReply : class
{
    public bool ReadsFirst => true;

    public async Task HandleAsync(TReply message, MessageContext context, CancellationToken cancellationToken)
    {
        var sagaId = context.Envelope.SagaId;
        var stored = await SagaStore.LoadForUpdateAsync(context, sagaId, cancellationToken);
        var decision = await sagas.ApplyAsync(context.Transaction, stored,
            (state, data, now) => sagas.Definition.Handle(state, data, message, now, Guid.CreateVersion7),
            context.Envelope.MessageId, spanInSagaTrace: null, cancellationToken);
        if (decision is null)
            throw new InvalidMessageException($"{typeof(TReply).Name} names saga {sagaId}, which this orchestrator never started.");
        if (decision.Ignored)
            OrchestratorLog.ReplyIgnored(logger, typeof(TReply).Name, sagaId, decision.Timeline.FirstOrDefault()?.Reason ?? "");
    }
}
