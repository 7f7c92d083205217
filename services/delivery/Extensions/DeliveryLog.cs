namespace SagaAspire.Delivery;

/// <summary>The delivery service's log messages. Addresses and refusal reasons stay out: they may identify a person.</summary>
internal static partial class DeliveryLog
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Saga {SagaId}: scheduled order {OrderId} as {DeliveryId} on {Day}")]
    public static partial void Scheduled(ILogger logger, string sagaId, string orderId, string deliveryId, DateOnly day);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Saga {SagaId}: delivery of order {OrderId} refused")]
    public static partial void Refused(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Saga {SagaId}: cancelled the delivery of order {OrderId} on {Day}; its place is free again")]
    public static partial void Cancelled(ILogger logger, string sagaId, string orderId, DateOnly day);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Saga {SagaId}: cancel for order {OrderId} arrived before any schedule; a later schedule will be refused")]
    public static partial void CancelledBeforeSchedule(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "Saga {SagaId}: {Command} found the delivery {Status}; answered without booking or cancelling")]
    public static partial void Repeated(ILogger logger, string command, string sagaId, string status);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Warning, Message = "Delivery:Areas is empty, so every delivery is refused; start the service from its folder, or set Delivery__Areas__0__Country and Delivery__Areas__0__SlotsPerDay")]
    public static partial void NoAreas(ILogger logger);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Information, Message = "Delivery areas written: {Count} from Delivery:Areas")]
    public static partial void AreasSeeded(ILogger logger, int count);
}
