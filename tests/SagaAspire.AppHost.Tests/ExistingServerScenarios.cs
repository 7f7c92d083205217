using Npgsql;
using SagaAspire.Embedded;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The AppHost on servers it does not run (SagaAspire:Infrastructure=existing): a PostgreSQL
/// server and a Kafka-protocol broker started by the test itself stand in for your own, and
/// inventory runs twice over (SagaAspire:Replicas).
/// </summary>
public sealed class the_existing_infrastructure(ExistingServersFixture system) : IClassFixture<ExistingServersFixture>
{
    private static readonly string[] Databases = ["orders", "orchestrator", "inventory", "payment", "delivery"];

    [Fact]
    public async Task creates_the_databases_on_your_server_and_runs_sagas_through_your_broker()
    {
        await using (var connection = new NpgsqlConnection(system.Postgres.ConnectionString()))
        {
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand("SELECT datname FROM pg_database", connection);
            var names = new List<string>();
            await using (var reader = await query.ExecuteReaderAsync())
                while (await reader.ReadAsync()) names.Add(reader.GetString(0));
            Databases.ShouldAllBe(database => names.Contains(database));
        }

        var saga = new SagaClient(system);
        var accepted = await saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-existing"));
        (await saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 120)).GetProperty("status").GetString().ShouldBe("Approved");
    }

    [Fact]
    public async Task runs_the_replicas_asked_for()
    {
        var running = new HashSet<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var update in system.App.ResourceNotifications.WatchAsync(timeout.Token))
        {
            if (update.Resource.Name == "inventory" && update.Snapshot.State?.Text == KnownResourceStates.Running) running.Add(update.ResourceId);
            if (running.Count == 2) break;
        }
        running.Count.ShouldBe(2, "two inventory processes, each its own resource instance");
    }
}

/// <summary>Your servers, stood in for by a PostgreSQL server and a broker of the test's own, and the AppHost on them.</summary>
public sealed class ExistingServersFixture : IAsyncLifetime, ISagaHost
{
    private readonly Dictionary<string, HttpClient> _clients = [];

    public EmbeddedPostgres Postgres { get; private set; } = null!;
    public EmbeddedKafka Kafka { get; private set; } = null!;
    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await EmbeddedPostgres.StartAsync();
        // Its topics created up front, as on a cluster of your own: the services create missing
        // topics themselves, but the mock cluster does not implement CreateTopics.
        Kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Topics = [.. Contracts.Topics.All, .. Contracts.Topics.All.Select(t => t + ".dlq")] });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(
        [
            "--SagaAspire:Infrastructure=existing",
            $"--ConnectionStrings:kafka={Kafka.BootstrapServers}",
            $"--ConnectionStrings:postgres=Host=127.0.0.1;Port={Postgres.Port};Username={EmbeddedPostgres.Superuser}",
            "--SagaAspire:Replicas=inventory=2",
            "--Parameters:operator-api-key=existing-tests-key",
        ], timeout.Token);
        // No dashboard here, so nothing receives telemetry: the services export none.
        foreach (var service in AppHostFixture.Services)
            builder.CreateResourceBuilder<ProjectResource>(service).WithEnvironment("OTEL_SDK_DISABLED", "true").WithEnvironment("Logging__LogLevel__Default", "Warning");
        App = await builder.BuildAsync(timeout.Token);
        await App.StartHealthyAsync(AppHostFixture.Services, timeout.Token);
        foreach (var service in AppHostFixture.Services) _clients[service] = App.CreateHttpClient(service);
    }

    public HttpClient Client(string service) => _clients[service];

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values) client.Dispose();
        if (App is not null) await App.DisposeAsync();
        Kafka?.Dispose();
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}
