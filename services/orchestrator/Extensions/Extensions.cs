using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Orchestrator.Data;
using SagaAspire.Orchestrator.Explorer;
using SagaAspire.Orchestrator.Handlers;
using SagaAspire.Orchestrator.Sagas;

namespace SagaAspire.Orchestrator.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrchestratorOptions>()
            .Bind(builder.Configuration.GetSection(OrchestratorOptions.Section))
            .Validate(o => o.StepAttempts >= 1 && o.CompensationAttempts >= 1 && o.StepTimeout > TimeSpan.Zero && o.CompensationTimeout > TimeSpan.Zero,
                "Orchestrator attempts must be at least 1 and timeouts positive")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => OrderSaga.Define(sp.GetRequiredService<IOptions<OrchestratorOptions>>().Value));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SagaStore>();
        builder.Services.AddSingleton<SagaCoordinator>();
        builder.Services.AddSingleton(sp => new SagaQueries(sp.GetRequiredService<Npgsql.NpgsqlDataSource>())
        {
            StepNames = [.. sp.GetRequiredService<SagaAspire.Sagas.SagaDefinition<OrderPlaced>>().Steps.Select(s => s.Name)],
        });

        builder.Services.AddOptions<ExplorerOptions>().Bind(builder.Configuration.GetSection(ExplorerOptions.Section));
        builder.Services.AddSingleton<SagaChangeFeed>();
        // Service discovery and the standard resilience pipeline come from the service defaults;
        // the client's own timeout caps the whole pipeline, retries included, since a page waits.
        builder.Services.AddHttpClient(ExplorerEndpoints.TraceClient, client => client.Timeout = TimeSpan.FromSeconds(5));

        builder.AddMessaging("orchestrator", "orchestrator")
            .AddContracts(ContractsJson.Default)
            .Handle<OrderPlaced, OrderPlacedHandler>(Topics.Orders)
            .Handle<InventoryReserved, SagaReplyHandler<InventoryReserved>>(Topics.InventoryEvents)
            .Handle<InventoryReservationFailed, SagaReplyHandler<InventoryReservationFailed>>(Topics.InventoryEvents)
            .Handle<InventoryReleased, SagaReplyHandler<InventoryReleased>>(Topics.InventoryEvents)
            .Handle<InventoryCommitted, SagaReplyHandler<InventoryCommitted>>(Topics.InventoryEvents)
            .Handle<PaymentCharged, SagaReplyHandler<PaymentCharged>>(Topics.PaymentEvents)
            .Handle<PaymentFailed, SagaReplyHandler<PaymentFailed>>(Topics.PaymentEvents)
            .Handle<PaymentRefunded, SagaReplyHandler<PaymentRefunded>>(Topics.PaymentEvents)
            .Handle<DeliveryScheduled, SagaReplyHandler<DeliveryScheduled>>(Topics.DeliveryEvents)
            .Handle<DeliveryRefused, SagaReplyHandler<DeliveryRefused>>(Topics.DeliveryEvents)
            .Handle<DeliveryCancelled, SagaReplyHandler<DeliveryCancelled>>(Topics.DeliveryEvents)
            .Validate<OrderPlaced>(OrderPlacedRules)
            .Publishes(Topics.InventoryCommands, Topics.PaymentCommands, Topics.DeliveryCommands, Topics.OrchestratorEvents)
            .AddMigrations("orchestrator", OrchestratorSchema.Migrations);

        // Registered after AddMessaging because hosted services start in order: the schema first.
        builder.Services.AddHostedService<SagaTimeouts>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SagaChangeFeed>());
    }

    private static IEnumerable<string> OrderPlacedRules(OrderPlaced order)
    {
        if (string.IsNullOrWhiteSpace(order.OrderId)) yield return "orderId is empty";
        if (order.Lines.Count == 0) yield return "the order has no lines";
        if (order.Lines.Any(l => l.Quantity <= 0)) yield return "a line has a quantity that is not positive";
        if (order.Total <= 0) yield return "the total is not positive";
    }
}
