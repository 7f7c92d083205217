// The Aspire AppHost: Kafka and PostgreSQL in containers, one database per service. The resource
// names are the connection names the services read (ConnectionStrings__kafka, __orders, ...), the
// same contract the container-free DevHost fulfils.
var builder = DistributedApplication.CreateBuilder(args);

builder.AddKafka("kafka")
    .WithKafkaUI();

var postgres = builder.AddPostgres("postgres");
if (builder.Configuration.GetValue("SagaAspire:PersistData", false)) postgres.WithDataVolume();
if (builder.Configuration.GetValue("SagaAspire:PgAdmin", false)) postgres.WithPgAdmin();

foreach (var database in new[] { "orders", "orchestrator", "inventory", "payment" })
    postgres.AddDatabase(database);

builder.Build().Run();
