namespace SagaAspire.Contracts;

/// <summary>The saga's Kafka topics. The key of every message is the saga id.</summary>
public static class Topics
{
    /// <summary>OrderPlaced, from the order service.</summary>
    public const string Orders = "orders";

    /// <summary>ReserveInventory, ReleaseInventory, CommitInventory, from the orchestrator.</summary>
    public const string InventoryCommands = "inventory.commands";

    /// <summary>Inventory's answers.</summary>
    public const string InventoryEvents = "inventory.events";

    /// <summary>ChargePayment, RefundPayment, from the orchestrator.</summary>
    public const string PaymentCommands = "payments.commands";

    /// <summary>Payment's answers.</summary>
    public const string PaymentEvents = "payment.events";

    /// <summary>ScheduleDelivery, CancelDelivery, from the orchestrator.</summary>
    public const string DeliveryCommands = "delivery.commands";

    /// <summary>Delivery's answers.</summary>
    public const string DeliveryEvents = "delivery.events";

    /// <summary>Each saga's outcome: OrderApproved or OrderRejected.</summary>
    public const string OrchestratorEvents = "orchestrator.events";

    public static readonly string[] All = [Orders, InventoryCommands, InventoryEvents, PaymentCommands, PaymentEvents, DeliveryCommands, DeliveryEvents, OrchestratorEvents];
}
