using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Payment.Data;
using SagaAspire.Payment.Domain;
using SagaAspire.Payment.Handlers;

namespace SagaAspire.Payment.Extensions;

internal static partial class Extensions
{
    // numeric(18,2) holds 16 digits before the point; a larger amount could not be recorded.
    private const decimal LargestAmount = 9_999_999_999_999_999.99m;

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PaymentOptions>()
            .Bind(builder.Configuration.GetSection(PaymentOptions.Section))
            .Validate(o => o.IsValid(), "Payment:FailureRate must be between 0 and 1 and Payment:DeclineAmountAbove positive")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => new ChargeDecision(sp.GetRequiredService<IOptions<PaymentOptions>>().Value));
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<PaymentStore>();

        builder.AddMessaging("payment", "payment")
            .AddContracts(ContractsJson.Default)
            .Handle<ChargePayment, ChargePaymentHandler>(Topics.PaymentCommands)
            .Handle<RefundPayment, RefundPaymentHandler>(Topics.PaymentCommands)
            .Validate<ChargePayment>(ChargeRules)
            .Validate<RefundPayment>(m => OrderIdRules(m.OrderId))
            .Publishes(Topics.PaymentEvents)
            .AddMigrations("payment", PaymentSchema.Migrations);
    }

    private static IEnumerable<string> ChargeRules(ChargePayment charge)
    {
        foreach (var problem in OrderIdRules(charge.OrderId)) yield return problem;
        if (string.IsNullOrWhiteSpace(charge.CustomerId)) yield return "customerId is empty";
        if (charge.Amount <= 0) yield return $"amount must be positive, not {charge.Amount}";
        else if (charge.Amount > LargestAmount) yield return $"amount {charge.Amount} is too large to record";
        if (!CurrencyCode().IsMatch(charge.Currency)) yield return $"currency must be a 3-letter uppercase code, not '{charge.Currency}'";
    }

    private static IEnumerable<string> OrderIdRules(string orderId)
    {
        if (string.IsNullOrWhiteSpace(orderId)) yield return "orderId is empty";
    }

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}
