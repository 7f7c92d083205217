using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Order.Apis;
using SagaAspire.Order.Data;
using SagaAspire.Order.Handlers;
using SagaAspire.Order.Recovery;

namespace SagaAspire.Order.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrdersOptions>()
            .Bind(builder.Configuration.GetSection(OrdersOptions.Section))
            .Validate(o => o.MaxLines >= 1 && o.MaxBodyBytes >= 1024, "Orders:MaxLines must be at least 1 and Orders:MaxBodyBytes at least 1024")
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<OrdersOptions>, DefaultAddressValidation>();
        builder.Services.AddOptions<PendingOrdersOptions>()
            .Bind(builder.Configuration.GetSection(PendingOrdersOptions.Section))
            .Validate(o => o.ResendPendingAfter > TimeSpan.Zero && o.ResendMaxInterval >= o.ResendPendingAfter && o.ResendScanInterval > TimeSpan.Zero,
                "Orders:ResendPendingAfter and Orders:ResendScanInterval must be positive, and Orders:ResendMaxInterval at least ResendPendingAfter")
            .ValidateOnStart();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<OrderStore>();

        builder.AddMessaging("order", "orders")
            .AddContracts(ContractsJson.Default)
            .Handle<OrderApproved, OrderApprovedHandler>(Topics.OrchestratorEvents)
            .Handle<OrderRejected, OrderRejectedHandler>(Topics.OrchestratorEvents)
            .Publishes(Topics.Orders)
            .AddMigrations("order", OrderSchema.Migrations);

        // Registered after AddMessaging because hosted services start in order: the schema first.
        builder.Services.AddHostedService<PendingOrderResender>();
    }

    /// <summary>A default delivery address with a part missing stops start-up, naming the setting.</summary>
    private sealed class DefaultAddressValidation : IValidateOptions<OrdersOptions>
    {
        public ValidateOptionsResult Validate(string? name, OrdersOptions options) =>
            options.CheckDefaultAddress().Problems is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
