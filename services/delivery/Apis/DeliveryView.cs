using SagaAspire.Contracts;

namespace SagaAspire.Delivery.Apis;

/// <summary>A saga's delivery: where to, the day booked, or why it was refused; cancelled ones keep their day.</summary>
public sealed record DeliveryView(
    string SagaId,
    string OrderId,
    string Status,
    string? DeliveryId,
    DeliveryAddress? Address,
    DateOnly? Day,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>A country served, its daily capacity, and the days asked for so far.</summary>
public sealed record AreaView(string Country, string Name, int SlotsPerDay, IReadOnlyList<SlotView> Slots);

/// <summary>One day in one country: how many deliveries it takes and how many are booked.</summary>
public sealed record SlotView(DateOnly Day, int Capacity, int Booked);
