using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Delivery.Data;
using SagaAspire.Delivery.Domain;
using SagaAspire.Delivery.Handlers;

namespace SagaAspire.Delivery.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeliveryOptions>()
            .Bind(builder.Configuration.GetSection(DeliveryOptions.Section))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidation>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new DeliveryDecision(sp.GetRequiredService<IOptions<DeliveryOptions>>().Value));
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<DeliveryStore>();

        builder.AddMessaging("delivery", "delivery")
            .AddContracts(ContractsJson.Default)
            .Handle<ScheduleDelivery, ScheduleDeliveryHandler>(Topics.DeliveryCommands)
            .Handle<CancelDelivery, CancelDeliveryHandler>(Topics.DeliveryCommands)
            .Validate<ScheduleDelivery>(ScheduleRules)
            .Validate<CancelDelivery>(m => OrderIdRules(m.OrderId))
            .Publishes(Topics.DeliveryEvents)
            .AddMigrations("delivery", DeliverySchema.Migrations);

        // Registered after AddMessaging because hosted services start in order: the schema first.
        builder.Services.AddSingleton<AreaSeeder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AreaSeeder>());
    }

    // A missing address is the order's business (the saga is told, and compensates); a malformed one is poison.
    private static IEnumerable<string> ScheduleRules(ScheduleDelivery schedule)
    {
        foreach (var problem in OrderIdRules(schedule.OrderId)) yield return problem;
        if (schedule.Address is not { } address) yield break;
        if (string.IsNullOrWhiteSpace(address.Street)) yield return "address.street is empty";
        if (string.IsNullOrWhiteSpace(address.City)) yield return "address.city is empty";
        if (string.IsNullOrWhiteSpace(address.PostalCode)) yield return "address.postalCode is empty";
        if (!DeliveryArea.IsCountryCode(address.Country)) yield return $"address.country must be a 2-letter uppercase ISO 3166 code, not '{address.Country}'";
    }

    private static IEnumerable<string> OrderIdRules(string orderId)
    {
        if (string.IsNullOrWhiteSpace(orderId)) yield return "orderId is empty";
    }

    /// <summary>Names every wrong Delivery setting at start-up, not just that one is wrong.</summary>
    private sealed class DeliveryOptionsValidation : IValidateOptions<DeliveryOptions>
    {
        public ValidateOptionsResult Validate(string? name, DeliveryOptions options) =>
            options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
