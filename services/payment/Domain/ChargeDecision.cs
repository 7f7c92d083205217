using SagaAspire.Contracts;

namespace SagaAspire.Payment.Domain;

/// <summary>The provider's answer to a charge: approved, or declined and why.</summary>
public sealed record ChargeOutcome(string? DeclineReason)
{
    public static readonly ChargeOutcome Approved = new((string?)null);

    public bool IsApproved => DeclineReason is null;

    public static ChargeOutcome Declined(string reason) => new(reason);
}

/// <summary>
/// The simulated payment provider: deterministic rules first (customer prefix, amount limit), so
/// demos and tests can force a decline, then the configured random failure rate.
/// </summary>
/// <param name="random">Returns a number in [0, 1); a charge is declined when it is below the failure rate.</param>
public sealed class ChargeDecision(PaymentOptions options, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    public ChargeOutcome Decide(ChargePayment charge)
    {
        if (options.DeclineCustomerPrefix.Length > 0 && charge.CustomerId.StartsWith(options.DeclineCustomerPrefix, StringComparison.OrdinalIgnoreCase))
            return ChargeOutcome.Declined($"card declined for customer {charge.CustomerId}");
        if (charge.Amount > options.DeclineAmountAbove)
            return ChargeOutcome.Declined($"amount {charge.Amount} {charge.Currency} exceeds the limit of {options.DeclineAmountAbove}");
        if (options.FailureRate > 0 && _random() < options.FailureRate)
            return ChargeOutcome.Declined($"declined by the simulated payment provider (failure rate {options.FailureRate})");
        return ChargeOutcome.Approved;
    }
}
