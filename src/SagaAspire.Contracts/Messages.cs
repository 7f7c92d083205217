using SagaAspire.Messaging;

namespace SagaAspire.Contracts;

/// <summary>One line of an order: a product, how many, at what unit price.</summary>
public sealed record OrderLine(string Sku, int Quantity, decimal UnitPrice);

/// <summary>How many of a product a reservation concerns.</summary>
public sealed record StockLine(string Sku, int Quantity);

/// <summary>Where an order is delivered; <see cref="Country"/> is an ISO 3166-1 alpha-2 code.</summary>
public sealed record DeliveryAddress(string Street, string City, string PostalCode, string Country);

/// <summary>A booked delivery: its id and the day it arrives.</summary>
public sealed record DeliveryBooking(string DeliveryId, DateOnly Date);

// order -> orchestrator

/// <summary>
/// An order was accepted and stored as Pending; its saga should start. <see cref="Address"/> is
/// absent only in orders placed before deliveries existed; the delivery step refuses those.
/// </summary>
[MessageType("order.placed")]
public sealed record OrderPlaced(string OrderId, string CustomerId, string Currency, IReadOnlyList<OrderLine> Lines, decimal Total,
    DeliveryAddress? Address = null);

// orchestrator -> inventory

/// <summary>Reserve every line of an order, all or nothing.</summary>
[MessageType("inventory.reserve")]
public sealed record ReserveInventory(string OrderId, IReadOnlyList<StockLine> Lines);

/// <summary>Give back what was reserved for the saga (nothing, if nothing was).</summary>
[MessageType("inventory.release")]
public sealed record ReleaseInventory(string OrderId);

/// <summary>Turn the saga's reservation into a permanent stock decrement.</summary>
[MessageType("inventory.commit")]
public sealed record CommitInventory(string OrderId);

// inventory -> orchestrator

/// <summary>Every line of the order is reserved.</summary>
[MessageType("inventory.reserved")]
public sealed record InventoryReserved(string OrderId);

/// <summary>Nothing was reserved, and why (unknown SKU, insufficient stock).</summary>
[MessageType("inventory.reservation-failed")]
public sealed record InventoryReservationFailed(string OrderId, string Reason);

/// <summary>The saga's reservation (if any) was released.</summary>
[MessageType("inventory.released")]
public sealed record InventoryReleased(string OrderId);

/// <summary>The saga's reservation is now sold stock.</summary>
[MessageType("inventory.committed")]
public sealed record InventoryCommitted(string OrderId);

// orchestrator -> payment

/// <summary>Charge the customer for the order.</summary>
[MessageType("payment.charge")]
public sealed record ChargePayment(string OrderId, string CustomerId, decimal Amount, string Currency);

/// <summary>Refund the saga's charge (nothing, if nothing was charged).</summary>
[MessageType("payment.refund")]
public sealed record RefundPayment(string OrderId);

// payment -> orchestrator

/// <summary>The customer was charged.</summary>
[MessageType("payment.charged")]
public sealed record PaymentCharged(string OrderId, string PaymentId);

/// <summary>The charge was declined, and why.</summary>
[MessageType("payment.failed")]
public sealed record PaymentFailed(string OrderId, string Reason);

/// <summary>The saga's charge (if any) was refunded.</summary>
[MessageType("payment.refunded")]
public sealed record PaymentRefunded(string OrderId, decimal Amount);

// orchestrator -> delivery

/// <summary>Book a delivery slot for the order's address.</summary>
[MessageType("delivery.schedule")]
public sealed record ScheduleDelivery(string OrderId, DeliveryAddress? Address);

/// <summary>Cancel the saga's delivery and free its slot (nothing, if nothing was booked).</summary>
[MessageType("delivery.cancel")]
public sealed record CancelDelivery(string OrderId);

// delivery -> orchestrator

/// <summary>A slot was booked for the order.</summary>
[MessageType("delivery.scheduled")]
public sealed record DeliveryScheduled(string OrderId, DeliveryBooking Booking);

/// <summary>No delivery was booked, and why (an address not served, no free slot).</summary>
[MessageType("delivery.refused")]
public sealed record DeliveryRefused(string OrderId, string Reason);

/// <summary>The saga's delivery (if any) was cancelled and its slot freed.</summary>
[MessageType("delivery.cancelled")]
public sealed record DeliveryCancelled(string OrderId);

// orchestrator -> order

/// <summary>The saga completed: the order is approved, with its delivery (absent from sagas without a delivery step).</summary>
[MessageType("order.approved")]
public sealed record OrderApproved(string OrderId, DeliveryBooking? Delivery = null);

/// <summary>The saga failed or was cancelled, everything was compensated: the order is rejected.</summary>
[MessageType("order.rejected")]
public sealed record OrderRejected(string OrderId, string Reason);
