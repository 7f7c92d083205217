using System.Text.Json;
using System.Text.Json.Serialization;

namespace SagaAspire.Contracts;

/// <summary>
/// Source-generated JSON for every contract. Required constructor parameters and nullable
/// annotations are enforced, so a message missing a field is poison on receipt, not a null later.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(ReserveInventory))]
[JsonSerializable(typeof(ReleaseInventory))]
[JsonSerializable(typeof(CommitInventory))]
[JsonSerializable(typeof(InventoryReserved))]
[JsonSerializable(typeof(InventoryReservationFailed))]
[JsonSerializable(typeof(InventoryReleased))]
[JsonSerializable(typeof(InventoryCommitted))]
[JsonSerializable(typeof(ChargePayment))]
[JsonSerializable(typeof(RefundPayment))]
[JsonSerializable(typeof(PaymentCharged))]
[JsonSerializable(typeof(PaymentFailed))]
[JsonSerializable(typeof(PaymentRefunded))]
[JsonSerializable(typeof(ScheduleDelivery))]
[JsonSerializable(typeof(CancelDelivery))]
[JsonSerializable(typeof(DeliveryScheduled))]
[JsonSerializable(typeof(DeliveryRefused))]
[JsonSerializable(typeof(DeliveryCancelled))]
[JsonSerializable(typeof(DeliveryBooking))]
[JsonSerializable(typeof(OrderApproved))]
[JsonSerializable(typeof(OrderRejected))]
public sealed partial class ContractsJson : JsonSerializerContext;
