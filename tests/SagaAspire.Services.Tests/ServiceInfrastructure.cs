using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using SagaAspire.Contracts;
using SagaAspire.Embedded;

namespace SagaAspire.Services.Tests;

/// <summary>A real PostgreSQL server and the Kafka-protocol broker shared by the service API tests.</summary>
public sealed class ServiceInfrastructure : IAsyncLifetime
{
    public EmbeddedPostgres Postgres { get; private set; } = null!;
    public EmbeddedKafka Kafka { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await EmbeddedPostgres.StartAsync();
        Kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Topics = [.. Topics.All, .. Topics.All.Select(t => t + ".dlq")] });
    }

    /// <summary>
    /// A service on a broker of its own, for a test that must see only its own messages on the
    /// saga's topics, with a client for its API and a producer of contract messages.
    /// </summary>
    public async Task<IsolatedService<TEntry>> IsolatedServiceAsync<TEntry>(string connectionName, IDictionary<string, string?>? settings = null)
        where TEntry : class
    {
        var kafka = PrivateBroker();
        var service = await ServiceAsync<TEntry>(connectionName, settings, kafka);
        return new IsolatedService<TEntry>(kafka, service, service.CreateClient(), new ContractProducer(kafka.BootstrapServers));
    }

    /// <summary>A broker of its own, for a test that must see only its own messages on the saga's topics.</summary>
    public static EmbeddedKafka PrivateBroker() =>
        EmbeddedKafka.Start(new EmbeddedKafkaOptions { Topics = [.. Topics.All, .. Topics.All.Select(t => t + ".dlq")] });

    public async Task DisposeAsync()
    {
        Kafka.Dispose();
        await Postgres.DisposeAsync();
    }

    /// <summary>
    /// The error a service stops with at start-up, for a setting it refuses. WebApplicationFactory
    /// now and then reports such a start as an <see cref="ObjectDisposedException"/> instead: it
    /// reads the host's services once the host says it is starting, and a start that fails at once
    /// may already have disposed them. The start is then tried again on a fresh factory.
    /// </summary>
    public async Task<Exception> StartupErrorAsync<TEntry>(string connectionName, IDictionary<string, string?> settings) where TEntry : class
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var service = await ServiceAsync<TEntry>(connectionName, settings);
            try
            {
                service.CreateClient().Dispose();
            }
            catch (ObjectDisposedException) when (attempt < 5)
            {
                continue;
            }
            catch (Exception error)
            {
                return error;
            }
            throw new InvalidOperationException($"{connectionName} started, though it was expected to refuse its settings");
        }
    }

    /// <summary>A service in-process on its own fresh database, with everything else real.</summary>
    public async Task<WebApplicationFactory<TEntry>> ServiceAsync<TEntry>(string connectionName, IDictionary<string, string?>? settings = null,
        EmbeddedKafka? kafka = null) where TEntry : class
    {
        kafka ??= Kafka;
        var database = $"{connectionName}_{Guid.NewGuid():N}"[..30];
        await Postgres.CreateDatabaseAsync(database);
        var connectionString = Postgres.ConnectionString(database);
        return new WebApplicationFactory<TEntry>().WithWebHostBuilder(web =>
        {
            web.UseSetting($"ConnectionStrings:{connectionName}", connectionString);
            web.UseSetting("ConnectionStrings:kafka", kafka.BootstrapServers);
            web.UseSetting("Messaging:SessionTimeoutMs", "6000");
            web.UseSetting("Logging:LogLevel:Default", "Warning");
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) web.UseSetting(key, value);
        });
    }
}

/// <summary>A service with its own broker; disposing it stops both.</summary>
public sealed record IsolatedService<TEntry>(EmbeddedKafka Kafka, WebApplicationFactory<TEntry> Service, HttpClient Client, ContractProducer Producer)
    : IAsyncDisposable where TEntry : class
{
    public async ValueTask DisposeAsync()
    {
        Producer.Dispose();
        Client.Dispose();
        await Service.DisposeAsync();
        Kafka.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ServiceCollection : ICollectionFixture<ServiceInfrastructure>
{
    public const string Name = "services";
}
