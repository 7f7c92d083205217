namespace SagaAspire.Order;

/// <summary>The order service's log messages.</summary>
internal static partial class OrderLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "Order {OrderId} was not Pending; the outcome {Status} changed nothing")]
    public static partial void AlreadyConcluded(ILogger logger, string orderId, string status);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Order {OrderId} is still Pending; OrderPlaced for saga {SagaId} sent again (re-send {Resend})")]
    public static partial void OrderPlacedResent(ILogger logger, string orderId, string sagaId, int resend);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Looking for orders left Pending failed; trying again")]
    public static partial void ResendScanFailed(ILogger logger, Exception exception);
}
