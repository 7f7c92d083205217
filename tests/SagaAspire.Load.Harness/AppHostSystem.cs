using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SagaAspire.Embedded;
using SagaAspire.Scenarios;

namespace SagaAspire.Load;

/// <summary>How the harness starts the system through the AppHost.</summary>
public sealed record AppHostSystemOptions
{
    /// <summary>Processes per service (by service name); a service not named runs once.</summary>
    public IReadOnlyDictionary<string, int> Replicas { get; init; } = new Dictionary<string, int>();
    public int Partitions { get; init; } = 4;

    /// <summary>Extra settings for every service (configuration keys in environment-variable form).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Receives each line a service writes, with the service's instance name.</summary>
    public Action<string, string>? Output { get; init; }

    /// <summary>Run the Aspire dashboard, which receives every span, as a user runs the system.</summary>
    public bool Dashboard { get; init; } = true;
}

/// <summary>One running process of a service, as Aspire knows it.</summary>
public sealed record ServiceInstance(string Service, string Id, int? ProcessId, bool Running);

/// <summary>
/// The whole system as the AppHost starts it (Aspire.Hosting.Testing), on the embedded
/// infrastructure, with the handles the faults need: each service's processes (killed by their
/// process id, started again through Aspire), the broker's control endpoint, and PostgreSQL's
/// stop and start commands.
/// </summary>
public sealed class AppHostSystem : IAsyncDisposable
{
    /// <summary>The services with the database each owns, as the AppHost names them.</summary>
    public static readonly (string Name, string Database)[] Services =
        [("order", "orders"), ("orchestrator", "orchestrator"), ("inventory", "inventory"), ("payment", "payment"), ("delivery", "delivery")];

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _logReaders = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private AppHostSystem(DistributedApplication app, string dataDirectory)
    {
        App = app;
        DataDirectory = dataDirectory;
    }

    public DistributedApplication App { get; }

    /// <summary>The embedded PostgreSQL's data folder (temporary, removed on dispose).</summary>
    public string DataDirectory { get; }

    public Uri OrderUrl { get; private set; } = null!;
    public string KafkaBootstrapServers { get; private set; } = "";
    public IReadOnlyDictionary<string, string> DatabaseConnectionStrings { get; private set; } = new Dictionary<string, string>();

    /// <summary>The dashboard's telemetry API, when the dashboard runs.</summary>
    public DashboardTelemetry? Dashboard { get; private set; }

    public static async Task<AppHostSystem> StartAsync(AppHostSystemOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var data = Path.Combine(Path.GetTempPath(), $"sagaaspire-load-{Guid.NewGuid():N}");
        var replicas = string.Join(',', options.Replicas.Select(r => $"{r.Key}={r.Value.ToString(CultureInfo.InvariantCulture)}"));
        progress?.Invoke("Starting the system through the AppHost (embedded infrastructure) ...");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(
            new DistributedApplicationTestingBuilderOptions { EnableDashboard = options.Dashboard },
            [
                "--environment=Development",
                "--SagaAspire:Infrastructure=embedded",
                $"--SagaAspire:DataDirectory={data}",
                $"--SagaAspire:Partitions={options.Partitions.ToString(CultureInfo.InvariantCulture)}",
                .. replicas.Length > 0 ? [$"--SagaAspire:Replicas={replicas}"] : Array.Empty<string>(),
                $"--Parameters:operator-api-key={Guid.NewGuid():N}",
            ], cancellationToken);
        // The services' own log lines go to --service-log (Output), not to the harness's console,
        // which shows Aspire's warnings and errors only.
        builder.Services.AddLogging(logging => logging.AddFilter((category, level) =>
            level >= LogLevel.Warning && category?.Contains(".Resources.", StringComparison.Ordinal) != true));
        foreach (var (service, _) in Services)
        {
            var resource = builder.CreateResourceBuilder<ProjectResource>(service);
            foreach (var (key, value) in options.Settings) resource.WithEnvironment(key, value);
            // Without a dashboard nothing receives telemetry: the services export none.
            if (!options.Dashboard) resource.WithEnvironment("OTEL_SDK_DISABLED", "true");
        }
        var app = await builder.BuildAsync(cancellationToken);
        var system = new AppHostSystem(app, data);
        try
        {
            system.WatchStates();
            await app.StartHealthyAsync(Services.Select(s => s.Name), cancellationToken);
            system.OrderUrl = app.GetEndpoint("order", "http");
            system.KafkaBootstrapServers = await app.GetConnectionStringAsync("kafka", cancellationToken) ?? "";
            var databases = new Dictionary<string, string>();
            foreach (var (_, database) in Services)
                databases[database] = await app.GetConnectionStringAsync($"{database}-db", cancellationToken) ?? "";
            system.DatabaseConnectionStrings = databases;
            if (options.Dashboard) system.Dashboard = await DashboardTelemetry.ConnectAsync(await app.GetDashboardUrlAsync(cancellationToken), cancellationToken);
            if (options.Output is { } output) system.ForwardLogs(output);
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every instance of a service (one per replica), as Aspire knows it now.</summary>
    public IReadOnlyList<ServiceInstance> Instances(string service) =>
        [.. CurrentStates(service).Select(e => new ServiceInstance(service, e.ResourceId, ProcessIdOf(e.Snapshot), e.Snapshot.State?.Text == KnownResourceStates.Running))];

    /// <summary>Every instance of every service.</summary>
    public IReadOnlyList<ServiceInstance> AllInstances() => [.. Services.SelectMany(s => Instances(s.Name))];

    /// <summary>kill -9 of the instance's process, then waits until Aspire sees it gone.</summary>
    public async Task KillAsync(ServiceInstance instance, CancellationToken cancellationToken = default)
    {
        if (Instances(instance.Service).SingleOrDefault(i => i.Id == instance.Id)?.ProcessId is { } pid)
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (ArgumentException)
            {
                // already gone
            }
        }
        await App.ResourceNotifications.WaitForResourceAsync(instance.Service,
            e => e.ResourceId == instance.Id && e.Snapshot.State?.Text != KnownResourceStates.Running, cancellationToken);
    }

    /// <summary>Starts a stopped or killed instance again through Aspire and waits until it is healthy.</summary>
    public async Task StartAsync(ServiceInstance instance, TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(instance.Id, KnownResourceCommands.StartCommand, bound.Token);
        if (!result.Success) throw new InvalidOperationException($"{instance.Id} did not start: {result.Message}");
        await WaitHealthyAsync(instance.Service, instance.Id, bound.Token);
    }

    /// <summary>The embedded broker's state through its control endpoint: down until <see cref="BrokerUpAsync"/>.</summary>
    public async Task BrokerDownAsync() =>
        (await _http.PostAsync(new Uri($"{App.GetEndpoint("kafka", "control").ToString().TrimEnd('/')}/outage?seconds=3600"), null)).EnsureSuccessStatusCode();

    public async Task BrokerUpAsync() =>
        (await _http.PostAsync(new Uri($"{App.GetEndpoint("kafka", "control").ToString().TrimEnd('/')}/up"), null)).EnsureSuccessStatusCode();

    /// <summary>
    /// Stops PostgreSQL through Aspire (a fast shutdown: sessions ended, in-flight transactions
    /// rolled back). Aspire gives up waiting for a stop after about 15 s and says it failed; on a
    /// loaded machine the stop can take longer than that and still happen, so what counts is the
    /// resource's state.
    /// </summary>
    public async Task StopPostgresAsync(TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        var postgres = CurrentStates("postgres").Single();
        var wrapper = ProcessIdOf(postgres.Snapshot);
        await App.ResourceCommands.ExecuteCommandAsync(postgres.ResourceId, KnownResourceCommands.StopCommand, bound.Token);
        await App.ResourceNotifications.WaitForResourceAsync("postgres", e => e.Snapshot.State?.Text is not (null or "Running" or "Stopping"), bound.Token);
        // Until the server itself is gone (the postmaster whose id its postmaster.pid holds), a
        // new one on the same data folder would refuse to start. Under load Aspire's stop may time
        // out and end the processes the hard way, which leaves that file behind.
        var postmaster = PostmasterPid();
        while ((wrapper is { } pid && ProcFs.Alive(pid)) || (postmaster is { } server && ProcFs.Alive(server)))
            await Task.Delay(100, bound.Token);
    }

    /// <summary>The PostgreSQL server's process id, from its postmaster.pid; null when there is none.</summary>
    public int? PostmasterPid() => EmbeddedPostgres.ServerProcessId(DataDirectory);

    /// <summary>Starts PostgreSQL again on its data and port, and waits until it is healthy.</summary>
    public async Task StartPostgresAsync(TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        var postgres = CurrentStates("postgres").Single();
        var before = ProcessIdOf(postgres.Snapshot);
        var result = await App.ResourceCommands.ExecuteCommandAsync(postgres.ResourceId, KnownResourceCommands.StartCommand, bound.Token);
        if (!result.Success) throw new InvalidOperationException($"PostgreSQL did not start: {result.Message}");
        // A new process, which then takes connections (the state from before the stop may still
        // say Healthy, so the server is asked itself).
        await App.ResourceNotifications.WaitForResourceAsync("postgres",
            e => e.Snapshot.State?.Text == KnownResourceStates.Running && ProcessIdOf(e.Snapshot) is { } pid && pid != before, bound.Token);
        // The harness's own idle pooled connections died with the old server; Npgsql would hand
        // them out and the next command on one would fail (57P01: a loss fault's outbox delete did).
        Npgsql.NpgsqlConnection.ClearAllPools();
        while (true)
        {
            try
            {
                await using var connection = new Npgsql.NpgsqlConnection(DatabaseConnectionStrings["orders"]);
                await connection.OpenAsync(bound.Token);
                return;
            }
            catch (Npgsql.NpgsqlException)
            {
                await Task.Delay(200, bound.Token);
            }
        }
    }

    public bool PostgresRunning => CurrentStates("postgres").Single().Snapshot.State?.Text == KnownResourceStates.Running;

    /// <summary>The processes that are not services, by part: the broker, the dashboard, DCP (Aspire's orchestrator).</summary>
    public IReadOnlyList<(string Part, IReadOnlyList<int> Pids)> InfrastructureProcesses()
    {
        var parts = new List<(string, IReadOnlyList<int>)>();
        if (CurrentStates("kafka").SingleOrDefault() is { } kafka && ProcessIdOf(kafka.Snapshot) is { } broker) parts.Add(("embedded broker", [broker]));
        if (CurrentStates("aspire-dashboard").SingleOrDefault() is { } dashboard && ProcessIdOf(dashboard.Snapshot) is { } board) parts.Add(("dashboard", [board]));
        // DCP watches the process that hosts the AppHost (this one), and runs helpers of its own.
        var dcp = ProcFs.Processes().Where(p => p.CommandLine.Contains($"--monitor {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)).Select(p => p.Pid).ToList();
        var resources = AllInstances().Select(i => i.ProcessId).Concat(parts.SelectMany(p => p.Item2).Select(p => (int?)p)).OfType<int>().ToHashSet();
        var postgresWrapper = CurrentStates("postgres").SingleOrDefault() is { } pg ? ProcessIdOf(pg.Snapshot) : null;
        var all = ProcFs.Processes().ToList();
        for (var i = 0; i < dcp.Count; i++)
            dcp.AddRange(all.Where(p => p.Parent == dcp[i] && !dcp.Contains(p.Pid) && !resources.Contains(p.Pid) && p.Pid != postgresWrapper).Select(p => p.Pid));
        if (dcp.Count > 0) parts.Add(("DCP", dcp));
        if (postgresWrapper is { } wrapper) parts.Add(("PostgreSQL's launcher", [wrapper]));
        return parts;
    }

    /// <summary>The latest state of each instance of <paramref name="resource"/>, as the watch below keeps them.</summary>
    private IEnumerable<ResourceEvent> CurrentStates(string resource) =>
        _states.Values.Where(e => e.Resource.Name == resource).OrderBy(e => e.ResourceId, StringComparer.Ordinal);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ResourceEvent> _states = new();

    /// <summary>Keeps the latest state of every resource instance (Aspire names each replica's instance itself).</summary>
    private void WatchStates() =>
        _logReaders.Add(Task.Run(async () =>
        {
            try
            {
                await foreach (var update in App.ResourceNotifications.WatchAsync(_stop.Token)) _states[update.ResourceId] = update;
            }
            catch (OperationCanceledException)
            {
            }
        }));

    private static int? ProcessIdOf(CustomResourceSnapshot snapshot) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString() is { } text
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;

    private async Task WaitHealthyAsync(string service, string id, CancellationToken cancellationToken) =>
        await App.ResourceNotifications.WaitForResourceAsync(service,
            e => e.ResourceId == id && e.Snapshot.State?.Text == KnownResourceStates.Running && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy,
            cancellationToken);

    private void ForwardLogs(Action<string, string> output)
    {
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var instance in AllInstances().Concat(new[] { "kafka", "postgres" }.SelectMany(r => CurrentStates(r)).Select(e => new ServiceInstance(e.Resource.Name, e.ResourceId, null, true))))
            _logReaders.Add(Task.Run(async () =>
            {
                try
                {
                    await foreach (var batch in logs.WatchAsync(instance.Id).WithCancellation(_stop.Token))
                        foreach (var line in batch) output(instance.Id, line.Content);
                }
                catch (OperationCanceledException)
                {
                }
            }));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_logReaders);
        await App.DisposeAsync();
        _http.Dispose();
        Dashboard?.Dispose();
        try
        {
            if (Directory.Exists(DataDirectory)) Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temporary folder is harmless
        }
    }
}
