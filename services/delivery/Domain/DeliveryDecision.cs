namespace SagaAspire.Delivery.Domain;

/// <summary>
/// The simulated courier: which days a delivery may take, and the configured share of deliveries it
/// refuses at random (so the saga's late failure can be seen under load, as payment's declines are).
/// </summary>
/// <param name="random">Returns a number in [0, 1); a delivery is refused when it is below the failure rate.</param>
public sealed class DeliveryDecision(DeliveryOptions options, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    /// <summary>Why the courier refuses this delivery at random, or null.</summary>
    public string? RandomRefusal() =>
        options.FailureRate > 0 && _random() < options.FailureRate
            ? $"refused by the simulated courier (failure rate {options.FailureRate})"
            : null;

    /// <summary>The days a delivery booked at <paramref name="now"/> may take: from tomorrow, <see cref="DeliveryOptions.BookingDays"/> of them.</summary>
    public (DateOnly First, DateOnly Last) BookableDays(DateTimeOffset now)
    {
        var tomorrow = DateOnly.FromDateTime(now.UtcDateTime).AddDays(1);
        return (tomorrow, tomorrow.AddDays(options.BookingDays - 1));
    }
}
