using Microsoft.Extensions.DependencyInjection;
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
        await App.StartHealthyAsync(Services, timeout.Token);
        foreach (var service in Services)
        {
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
