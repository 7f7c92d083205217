namespace SagaAspire.Payment.Domain;

/// <summary>How the simulated payment provider decides, from the <c>Payment</c> section.</summary>
public sealed class PaymentOptions
{
    public const string Section = "Payment";

    /// <summary>Share of otherwise acceptable charges declined at random, from 0 (none) to 1 (all).</summary>
    public double FailureRate { get; set; }

    /// <summary>Customers whose id starts with this (ignoring case) are always declined; empty turns the rule off.</summary>
    public string DeclineCustomerPrefix { get; set; } = "declined";

    /// <summary>Charges of more than this amount are declined.</summary>
    public decimal DeclineAmountAbove { get; set; } = 10_000m;

    internal bool IsValid() => FailureRate is >= 0 and <= 1 && DeclineAmountAbove > 0;
}
