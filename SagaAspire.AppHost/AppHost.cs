// The AppHost: Kafka and PostgreSQL (containers, processes on this machine, or your own servers),
// one database per service, and the five services wired to them. Every service reads the same
// configuration whichever infrastructure runs underneath: ConnectionStrings__kafka,
// ConnectionStrings__<its database>, OTEL_*, ASPNETCORE_URLS.
using Microsoft.Extensions.DependencyInjection;
using SagaAspire.AppHost;
using SagaAspire.AppHost.Embedded;
using SagaAspire.AppHost.Kafka;
using SagaAspire.AppHost.Services;
using SagaAspire.Contracts;

var builder = DistributedApplication.CreateBuilder(args);

SagaAspireSettings settings;
try
{
    settings = SagaAspireSettings.Read(builder);
}
catch (SettingException error)
{
    await Console.Error.WriteLineAsync($"SagaAspire.AppHost: {error.Message}");
    return 2;
}

IResourceBuilder<IResourceWithConnectionString> kafka = settings.Infrastructure switch
{
    Infrastructure.Containers => settings.PersistData
        ? builder.AddKafka("kafka").WithKafkaUI().WithDataVolume()
        : builder.AddKafka("kafka").WithKafkaUI(),
    Infrastructure.Embedded => builder.AddEmbeddedKafka("kafka", [.. Topics.All, .. Topics.All.Select(DeadLetterTopic)], settings.Partitions)
        .WithBrokerOutageCommand(settings.OutageDuration),
    _ => builder.AddConnectionString("kafka").WithKafkaHealthCheck(),
};

// Resource names must be unique, and the orchestrator's database would clash with the
// orchestrator itself, so databases are "<name>-db" resources, handed to each service under the
// name it reads (ConnectionStrings__orders, __orchestrator, __inventory, __payment, __delivery).
var database = PostgresServer.Add(builder, "postgres", settings);
var inventoryDb = database("inventory-db", "inventory");
var paymentDb = database("payment-db", "payment");
var deliveryDb = database("delivery-db", "delivery");
var orchestratorDb = database("orchestrator-db", "orchestrator");
var ordersDb = database("orders-db", "orders");

var operatorKey = builder.AddParameter(StartupSummary.OperatorKeyParameter, new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);

var inventory = builder.AddSagaService<Projects.SagaAspire_Inventory>("inventory", settings, operatorKey)
    .WithReference(kafka).WaitFor(kafka)
    .WithDatabase(inventoryDb, "inventory");

var payment = builder.AddSagaService<Projects.SagaAspire_Payment>("payment", settings, operatorKey)
    .WithReference(kafka).WaitFor(kafka)
    .WithDatabase(paymentDb, "payment");

var delivery = builder.AddSagaService<Projects.SagaAspire_Delivery>("delivery", settings, operatorKey)
    .WithReference(kafka).WaitFor(kafka)
    .WithDatabase(deliveryDb, "delivery");

var orchestrator = builder.AddSagaService<Projects.SagaAspire_Orchestrator>("orchestrator", settings, operatorKey)
    .WithReference(kafka).WaitFor(kafka)
    .WithDatabase(orchestratorDb, "orchestrator")
    .WaitFor(inventory).WaitFor(payment).WaitFor(delivery)
    .WithSagaExplorer()
    .WithRetryNeedsAttentionCommand(operatorKey);

builder.AddSagaService<Projects.SagaAspire_Order>("order", settings, operatorKey)
    .WithReference(kafka).WaitFor(kafka)
    .WithDatabase(ordersDb, "orders")
    .WithReference(orchestrator).WaitFor(orchestrator)
    .WithExternalHttpEndpoints();

builder.Services.AddSingleton(settings);
if (builder.ExecutionContext.IsRunMode) builder.Services.AddHostedService<StartupSummary>();

await builder.Build().RunAsync();
return 0;

static string DeadLetterTopic(string topic) => topic + ".dlq";
