namespace SagaAspire.Payment.Apis;

/// <summary>A saga's payment: what was asked, what was decided, and its refund, if any.</summary>
public sealed record PaymentView(
    string SagaId,
    string OrderId,
    string CustomerId,
    decimal Amount,
    string Currency,
    string Status,
    string? Reason,
    string? PaymentId,
    decimal? RefundedAmount,
    DateTimeOffset? RefundedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
