// The Aspire AppHost: Kafka and PostgreSQL in containers, one database per service, and the four
// services wired to them. Each service reads its connection strings under the names the DevHost
// uses too (ConnectionStrings__kafka, __orders, __orchestrator, __inventory, __payment), so both
// hosts give the services the same configuration.
var builder = DistributedApplication.CreateBuilder(args);

var kafka = builder.AddKafka("kafka")
    .WithKafkaUI();

var postgres = builder.AddPostgres("postgres");
if (IsSet("SagaAspire:PersistData")) postgres.WithDataVolume();
if (IsSet("SagaAspire:PgAdmin")) postgres.WithPgAdmin();

// Resource names must be unique and the orchestrator's database would clash with the orchestrator
// itself, so databases are "<name>-db" resources, handed to each service under its own name.
var inventoryDb = postgres.AddDatabase("inventory-db", databaseName: "inventory");
var paymentDb = postgres.AddDatabase("payment-db", databaseName: "payment");
var orchestratorDb = postgres.AddDatabase("orchestrator-db", databaseName: "orchestrator");
var ordersDb = postgres.AddDatabase("orders-db", databaseName: "orders");

var inventory = builder.AddProject<Projects.SagaAspire_Inventory>("inventory")
    .WithReference(kafka).WaitFor(kafka)
    .WithReference(inventoryDb, connectionName: "inventory").WaitFor(inventoryDb)
    .WithHttpHealthCheck("/health");

var payment = builder.AddProject<Projects.SagaAspire_Payment>("payment")
    .WithReference(kafka).WaitFor(kafka)
    .WithReference(paymentDb, connectionName: "payment").WaitFor(paymentDb)
    .WithHttpHealthCheck("/health");

var orchestrator = builder.AddProject<Projects.SagaAspire_Orchestrator>("orchestrator")
    .WithReference(kafka).WaitFor(kafka)
    .WithReference(orchestratorDb, connectionName: "orchestrator").WaitFor(orchestratorDb)
    .WaitFor(inventory).WaitFor(payment)
    .WithHttpHealthCheck("/health");

// The Saga Explorer (the orchestrator's /explorer/) links each saga to its trace in the dashboard,
// which listens on the first of the AppHost's own URLs. Only when running: a published manifest
// must not point at this machine.
if (builder.ExecutionContext.IsRunMode
    && builder.Configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var dashboard, ..])
{
    orchestrator.WithEnvironment("Explorer__DashboardUrl", dashboard);
}

builder.AddProject<Projects.SagaAspire_Order>("order")
    .WithReference(kafka).WaitFor(kafka)
    .WithReference(ordersDb, connectionName: "orders").WaitFor(ordersDb)
    .WithReference(orchestrator).WaitFor(orchestrator)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();

bool IsSet(string option) => bool.TryParse(builder.Configuration[option], out var on) && on;
