using System.Reflection;
using SagaAspire.DevHost;
using SagaAspire.OtlpReceiver;
using SagaAspire.Scenarios;

namespace SagaAspire.EndToEnd.Tests;

/// <summary>
/// The whole system for the end-to-end scenarios, through the DevHost: PostgreSQL, the
/// Kafka-protocol broker and the four services as separate processes, with short saga timeouts
/// and a short wait before an order left Pending has its OrderPlaced sent again.
/// Each scenario owns its orders (fresh ids), so one system serves them all.
/// </summary>
public sealed class SagaSystemFixture : IAsyncLifetime, ISagaHost
{
    /// <summary>The key operator actions need (Operations:ApiKey) in this system.</summary>
    public const string OperatorKey = "e2e-operator-key";
    private readonly Dictionary<string, HttpClient> _clients = [];

    public SagaSystem System { get; private set; } = null!;

    /// <summary>Every line the services wrote since they started, with the writing service's label.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Service, string Line)> ServiceOutput { get; } = new();
    public SagaClient Saga { get; private set; } = null!;

    /// <summary>Every span the four services export over OTLP.</summary>
    public OtlpTraceReceiver Traces { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Traces = await OtlpTraceReceiver.StartAsync();
        System = await SagaSystem.StartAsync(new SagaSystemOptions
        {
            OtlpEndpoint = Traces.HttpEndpoint.ToString().TrimEnd('/'),
            OtlpProtocol = "http/protobuf",
            TraceStore = Traces.HttpEndpoint,
            Output = (service, line) => ServiceOutput.Enqueue((service, line)),
            Configuration = typeof(SagaSystemFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug",
            Settings = new Dictionary<string, string?>
            {
                ["Orchestrator__StepTimeout"] = "00:00:03",
                ["Orchestrator__CompensationTimeout"] = "00:00:03",
                ["Orchestrator__StepAttempts"] = "5",
                // Orders left Pending (their OrderPlaced or outcome lost) have OrderPlaced sent
                // again within seconds; far longer than a healthy saga takes here, even on a busy
                // machine, so the trace scenarios see only the messages of one pass.
                ["Orders__ResendPendingAfter"] = "00:00:10",
                ["Logging__LogLevel__Default"] = "Warning",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "500",
                ["Operations__ApiKey"] = OperatorKey,
            },
        });
        foreach (var service in SagaSystem.Services)
            _clients[service.Name] = new HttpClient { BaseAddress = new Uri(System.Service(service.Name).Url), Timeout = TimeSpan.FromSeconds(30) };
        Saga = new SagaClient(this);
    }

    public HttpClient Client(string service) => _clients[service];

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values) client.Dispose();
        if (System is not null) await System.DisposeAsync();
        if (Traces is not null) await Traces.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SagaSystemCollection : ICollectionFixture<SagaSystemFixture>
{
    public const string Name = "saga system";
}
