namespace SagaAspire.Payment;

/// <summary>The payment service's log messages. Customer ids and decline reasons stay out: they may identify a person.</summary>
internal static partial class PaymentLog
{
    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Saga {SagaId}: charged order {OrderId} as {PaymentId}")]
    public static partial void Charged(ILogger logger, string sagaId, string orderId, string paymentId);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Saga {SagaId}: charge for order {OrderId} declined")]
    public static partial void Declined(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Saga {SagaId}: refunded {Amount} for order {OrderId}")]
    public static partial void Refunded(ILogger logger, string sagaId, string orderId, decimal amount);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Saga {SagaId}: refund for order {OrderId} arrived before any charge; a later charge will be declined")]
    public static partial void RefundedBeforeCharge(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Saga {SagaId}: {Command} found the payment {Status}; answered without charging or refunding")]
    public static partial void Repeated(ILogger logger, string command, string sagaId, string status);
}
