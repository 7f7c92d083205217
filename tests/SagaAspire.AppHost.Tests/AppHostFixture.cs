using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The whole system through the AppHost, started once for every test class of the collection by
/// Aspire.Hosting.Testing: the embedded broker and PostgreSQL (a temporary data folder) as
/// processes, the five services, and the dashboard, which receives every span. Saga timeouts are
/// short, and an order left Pending has its OrderPlaced sent again after 10 s. Before any test, one
/// order goes through every step, so that no test's saga is the first each service handles (its
/// consumers still joining their groups, its code still being compiled) and outruns those timeouts.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime, ISagaHost
{
    /// <summary>The operator key (the AppHost's operator-api-key parameter) in this system.</summary>
    public const string OperatorKey = "apphost-tests-operator-key";
    public static readonly string[] Services = ["order", "orchestrator", "inventory", "payment", "delivery"];
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    private readonly Dictionary<string, HttpClient> _clients = [];

    public DistributedApplication App { get; private set; } = null!;
    public SagaClient Saga { get; private set; } = null!;
    public DashboardTelemetry Dashboard { get; private set; } = null!;

    /// <summary>The dashboard's address with its browser token (<c>.../login?t=...</c>).</summary>
    public Uri DashboardLogin { get; private set; } = null!;

    /// <summary>How long <see cref="InitializeAsync"/> took, from creating the builder to every service healthy.</summary>
    public TimeSpan StartDuration { get; private set; }

    /// <summary>How long the warm-up order took, from its POST to its outcome.</summary>
    public TimeSpan WarmUpDuration { get; private set; }

    public async Task InitializeAsync()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(
            new DistributedApplicationTestingBuilderOptions { EnableDashboard = true },
            [
                "--environment=Development",
                "--SagaAspire:Infrastructure=embedded",
                "--SagaAspire:PersistData=false",
                "--SagaAspire:OutageSeconds=8",
                $"--Parameters:operator-api-key={OperatorKey}",
            ],
            timeout.Token);
        foreach (var service in Services)
            builder.CreateResourceBuilder<ProjectResource>(service).WithEnvironment("Logging__LogLevel__Default", "Warning");
        builder.CreateResourceBuilder<ProjectResource>("orchestrator")
            .WithEnvironment("Orchestrator__StepTimeout", "00:00:03")
            .WithEnvironment("Orchestrator__CompensationTimeout", "00:00:03")
            .WithEnvironment("Orchestrator__StepAttempts", "5")
            // A compensation unanswered twice (3 s, then 6 s) parks its saga as NeedsAttention.
            .WithEnvironment("Orchestrator__CompensationAttempts", "2");
        // Far longer than a healthy saga takes here, so the trace tests see one pass of messages.
        builder.CreateResourceBuilder<ProjectResource>("order").WithEnvironment("Orders__ResendPendingAfter", "00:00:10");

        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        foreach (var service in Services)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, timeout.Token);
            var client = App.CreateHttpClient(service);
            client.Timeout = TimeSpan.FromSeconds(30);
            _clients[service] = client;
        }
        StartDuration = clock.Elapsed;
        StartupLogs = await ReadLogsAsync();
        Saga = new SagaClient(this);
        DashboardLogin = await App.GetDashboardUrlAsync(timeout.Token);
        Dashboard = await DashboardTelemetry.ConnectAsync(DashboardLogin, timeout.Token);

        var warmUp = System.Diagnostics.Stopwatch.StartNew();
        var accepted = await Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-warm-up"));
        (await Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 120)).GetProperty("status").GetString()
            .ShouldBe("Approved", "the warm-up order goes through every step");
        WarmUpDuration = warmUp.Elapsed;
    }

    public HttpClient Client(string service) => _clients[service];

    /// <summary>Every line each resource wrote until the system was up (its console log in the dashboard).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> StartupLogs { get; private set; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>The current state of a resource that runs once, as the dashboard shows it (its instance id among it).</summary>
    public Task<ResourceEvent> StateAsync(string resource, CancellationToken cancellationToken = default) =>
        App.ResourceNotifications.WaitForResourceAsync(resource, _ => true, cancellationToken);

    /// <summary>The process id of a resource that runs once.</summary>
    public async Task<int> ProcessIdAsync(string resource) =>
        int.Parse((await StateAsync(resource)).Snapshot.Properties.Single(p => p.Name == "executable.pid").Value!.ToString()!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Kills a service's process (kill -9), found from Aspire, and waits until Aspire sees it gone; it stays down.</summary>
    public async Task KillAsync(string resource)
    {
        System.Diagnostics.Process.GetProcessById(await ProcessIdAsync(resource)).Kill();
        await App.ResourceNotifications.WaitForResourceAsync(resource, e => e.Snapshot.State?.Text != KnownResourceStates.Running);
    }

    /// <summary>Starts a stopped or killed resource again through Aspire, and waits until it is healthy.</summary>
    public async Task StartAsync(string resource)
    {
        var started = await App.ResourceCommands.ExecuteCommandAsync((await StateAsync(resource)).ResourceId, KnownResourceCommands.StartCommand);
        started.Success.ShouldBeTrue(started.Message);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(resource);
    }

    /// <summary>Whether a resource is running now.</summary>
    public async Task<bool> IsRunningAsync(string resource) => (await StateAsync(resource)).Snapshot.State?.Text == KnownResourceStates.Running;

    private async Task<Dictionary<string, IReadOnlyList<string>>> ReadLogsAsync()
    {
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        var lines = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var resource in App.Services.GetRequiredService<DistributedApplicationModel>().Resources)
        {
            var all = new List<string>();
            await foreach (var batch in logs.GetAllAsync(resource)) all.AddRange(batch.Select(l => l.Content));
            lines[resource.Name] = all;
        }
        return lines;
    }

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values) client.Dispose();
        Dashboard?.Dispose();
        if (App is not null) await App.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}

/// <summary>A span as the dashboard's telemetry API returns it (OTLP/JSON).</summary>
public sealed record DashboardSpan(string Service, string TraceId, string SpanId, string? ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset Start)
{
    public const int Server = 2, Client = 3, Producer = 4, Consumer = 5;
}

/// <summary>The dashboard's telemetry API (<c>/api/telemetry</c>), with the key the dashboard gives for its browser token.</summary>
public sealed class DashboardTelemetry : IDisposable
{
    private readonly HttpClient _http;

    private DashboardTelemetry(HttpClient http) => _http = http;

    public static async Task<DashboardTelemetry> ConnectAsync(Uri login, CancellationToken cancellationToken)
    {
        var http = new HttpClient { BaseAddress = new Uri(login.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(30) };
        var token = System.Web.HttpUtility.ParseQueryString(login.Query)["t"];
        using var exchange = await http.PostAsJsonAsync("/api/telemetry/validateToken", new { token }, cancellationToken);
        exchange.EnsureSuccessStatusCode();
        var key = (await exchange.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("apiKey").GetString();
        http.DefaultRequestHeaders.Add("x-api-key", key);
        return new DashboardTelemetry(http);
    }

    /// <summary>The spans of a trace the dashboard holds now; empty while it knows none.</summary>
    public Task<List<DashboardSpan>> TraceAsync(string traceId) => SpansAsync($"/api/telemetry/traces/{traceId}");

    /// <summary>The spans of the <paramref name="limit"/> most recent traces the dashboard holds now.</summary>
    public Task<List<DashboardSpan>> RecentTracesAsync(int limit) => SpansAsync($"/api/telemetry/traces?limit={limit}");

    private async Task<List<DashboardSpan>> SpansAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var spans = new List<DashboardSpan>();
        foreach (var resource in answer.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = Attributes(resource.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                    spans.Add(new DashboardSpan(service, span.GetProperty("traceId").GetString()!, span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) && parent.GetString() is { Length: > 0 } p ? p : null,
                        span.GetProperty("name").GetString()!, span.GetProperty("kind").GetInt32(), Attributes(span), StartOf(span)));
        }
        return spans;
    }

    /// <summary>Waits until the trace holds a span that <paramref name="last"/> accepts, then a moment for the other processes' last batches.</summary>
    public async Task<List<DashboardSpan>> WaitForTraceAsync(string traceId, Func<DashboardSpan, bool> last, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        List<DashboardSpan> spans = [];
        while (DateTime.UtcNow < deadline)
        {
            spans = await TraceAsync(traceId);
            if (spans.Any(last))
            {
                await Task.Delay(2000);
                return await TraceAsync(traceId);
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"Trace {traceId} holds {spans.Count} spans in the dashboard, not yet the last: " +
            string.Join(", ", spans.Select(s => $"{s.Service}/{s.Name}")));
    }

    /// <summary>When the span started: OTLP/JSON gives nanoseconds since the epoch, as a string.</summary>
    private static DateTimeOffset StartOf(JsonElement span) =>
        DateTimeOffset.UnixEpoch.AddTicks(long.Parse(span.GetProperty("startTimeUnixNano").ToString(), System.Globalization.CultureInfo.InvariantCulture) / 100);

    private static Dictionary<string, string> Attributes(JsonElement element)
    {
        var attributes = new Dictionary<string, string>();
        if (element.TryGetProperty("attributes", out var list))
            foreach (var attribute in list.EnumerateArray())
                attributes[attribute.GetProperty("key").GetString()!] = attribute.GetProperty("value").EnumerateObject().First().Value.ToString();
        return attributes;
    }

    public void Dispose() => _http.Dispose();
}
