namespace SagaAspire.Orchestrator;

/// <summary>The orchestrator's log messages.</summary>
internal static partial class OrchestratorLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Saga {SagaId} for order {OrderId} is still running; OrderPlaced ignored")]
    public static partial void SagaAlreadyStarted(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "{Reply} for saga {SagaId} ignored: {Reason}")]
    public static partial void ReplyIgnored(ILogger logger, string reply, string sagaId, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Saga {SagaId}: step {Step} {Outcome} after its timeout")]
    public static partial void TimedOut(ILogger logger, string sagaId, string step, string outcome);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Looking for overdue sagas failed; trying again")]
    public static partial void TimeoutScanFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Operator {Action} on saga {SagaId}: {Outcome}")]
    public static partial void OperatorAction(ILogger logger, string action, string sagaId, string outcome);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "OrderPlaced arrived again for saga {SagaId} of order {OrderId}, which is {Status}; its outcome was re-sent")]
    public static partial void OutcomeResent(ILogger logger, string sagaId, string orderId, string status);
}
