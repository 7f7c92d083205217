using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The whole system through the Aspire AppHost: Kafka and PostgreSQL in containers and the four
/// services, started by Aspire.Hosting.Testing; the scenarios wait until every service is healthy.
/// </summary>
public sealed class AspireSagaHost : IAsyncLifetime, ISagaHost
{
    private static readonly string[] Services = ["order", "orchestrator", "inventory", "payment"];
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(10);
    private readonly Dictionary<string, HttpClient> _clients = [];
    private DistributedApplication? _app;

    public SagaClient Saga { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(timeout.Token);
        _app = await builder.BuildAsync(timeout.Token);
        await _app.StartAsync(timeout.Token);
        foreach (var service in Services)
        {
            await _app.ResourceNotifications.WaitForResourceHealthyAsync(service, timeout.Token);
            var client = _app.CreateHttpClient(service);
            client.Timeout = TimeSpan.FromSeconds(30);
            _clients[service] = client;
        }
        Saga = new SagaClient(this);
    }

    public HttpClient Client(string service) => _clients[service];

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values) client.Dispose();
        if (_app is not null) await _app.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class AspireCollection : ICollectionFixture<AspireSagaHost>
{
    public const string Name = "aspire app host";
}
