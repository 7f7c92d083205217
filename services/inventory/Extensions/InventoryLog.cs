namespace SagaAspire.Inventory;

/// <summary>The inventory service's log messages.</summary>
internal static partial class InventoryLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Catalog seeded: {Added} of {Configured} configured products were new")]
    public static partial void CatalogSeeded(ILogger logger, int added, int configured);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Saga {SagaId}: reserved {Units} units of {Products} products for order {OrderId}")]
    public static partial void Reserved(ILogger logger, string sagaId, string orderId, int units, int products);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Saga {SagaId}: nothing reserved for order {OrderId}: {Reason}")]
    public static partial void Refused(ILogger logger, string sagaId, string orderId, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Saga {SagaId}: released the reservation of order {OrderId}")]
    public static partial void Released(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Saga {SagaId}: release for order {OrderId} arrived before any reservation; a later reserve will be refused")]
    public static partial void ReleasedBeforeReserve(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Saga {SagaId}: release for order {OrderId} after its stock was sold; nothing released")]
    public static partial void ReleaseAfterCommit(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Saga {SagaId}: committed the reservation of order {OrderId}")]
    public static partial void Committed(ILogger logger, string sagaId, string orderId);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Saga {SagaId}: {Command} found the reservation {Status}; answered without changing stock")]
    public static partial void Repeated(ILogger logger, string command, string sagaId, string status);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "No products are configured under Inventory:Catalog; reservations of products not yet in the database will fail")]
    public static partial void EmptyCatalog(ILogger logger);
}
