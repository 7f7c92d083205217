using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SagaAspire.Embedded;

namespace SagaAspire.DevHost;

/// <summary>How to run the whole system without containers.</summary>
public sealed record SagaSystemOptions
{
    /// <summary>Repository root (holds SagaAspire.sln); found from the working folder or the DevHost's own location when null.</summary>
    public string? RepositoryRoot { get; init; }

    /// <summary>Build configuration whose service binaries to run.</summary>
    public string Configuration { get; init; } = "Debug";

    /// <summary>PostgreSQL data folder; null for a temporary one.</summary>
    public string? DataDirectory { get; init; }

    public int PostgresPort { get; init; }

    /// <summary>
    /// First of four consecutive ports for order, orchestrator, inventory and payment (further
    /// replicas continue in blocks of four); 0 takes any free ports.
    /// </summary>
    public int BasePort { get; init; }

    /// <summary>Processes per service (by service name); a service not named runs once.</summary>
    public IReadOnlyDictionary<string, int> Replicas { get; init; } = new Dictionary<string, int>();
    public int Partitions { get; init; } = 4;

    /// <summary>Existing Kafka bootstrap servers to use instead of the embedded broker.</summary>
    public string? KafkaBootstrapServers { get; init; }

    /// <summary>An existing PostgreSQL server (an Npgsql connection string, any database) instead of the embedded one.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>Where services send telemetry (OTLP), if anywhere.</summary>
    public string? OtlpEndpoint { get; init; }
    public string OtlpProtocol { get; init; } = "http/protobuf";

    /// <summary>Where the Saga Explorer fetches traces from (the DevHost's OTLP receiver), if anywhere.</summary>
    public Uri? TraceStore { get; init; }

    /// <summary>Extra settings for every service (configuration keys in environment-variable form).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Receives each line a service writes, with the service's name.</summary>
    public Action<string, string>? Output { get; init; }

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>
/// The four services as separate processes, on PostgreSQL and Kafka, with exactly the
/// configuration an Aspire AppHost would inject (<c>ConnectionStrings__*</c>,
/// <c>services__*__http__0</c>, <c>OTEL_*</c>, <c>ASPNETCORE_URLS</c>). Used by the DevHost and by
/// the end-to-end tests.
/// </summary>
public sealed class SagaSystem : IAsyncDisposable
{
    /// <summary>The services in start order, with the database each owns (the AppHost's resource names).</summary>
    public static readonly (string Name, string Database, string Project)[] Services =
    [
        ("inventory", "inventory", "SagaAspire.Inventory"),
        ("payment", "payment", "SagaAspire.Payment"),
        ("orchestrator", "orchestrator", "SagaAspire.Orchestrator"),
        ("order", "orders", "SagaAspire.Order"),
    ];

    private readonly List<ServiceProcess> _services = [];
    private EmbeddedPostgres? _postgres;
    private EmbeddedKafka? _kafka;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private SagaSystem(SagaSystemOptions options) => Options = options;

    public SagaSystemOptions Options { get; }
    public IReadOnlyList<ServiceProcess> Processes => _services;
    public string KafkaBootstrapServers { get; private set; } = "";
    public EmbeddedKafka? EmbeddedKafka => _kafka;
    public EmbeddedPostgres? EmbeddedPostgres => _postgres;
    public IReadOnlyDictionary<string, string> DatabaseConnectionStrings { get; private set; } = new Dictionary<string, string>();

    /// <summary>The (first) process of a service.</summary>
    public ServiceProcess Service(string name) => _services.First(s => s.Name == name);

    /// <summary>Every process of a service.</summary>
    public IEnumerable<ServiceProcess> Replicas(string name) => _services.Where(s => s.Name == name);

    public static async Task<SagaSystem> StartAsync(SagaSystemOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var system = new SagaSystem(options);
        try
        {
            await system.StartInfrastructureAsync(progress, cancellationToken);
            await system.StartServicesAsync(progress, cancellationToken);
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    private async Task StartInfrastructureAsync(Action<string>? progress, CancellationToken cancellationToken)
    {
        if (Options.PostgresConnectionString is { } external)
        {
            progress?.Invoke("Using the PostgreSQL server from the given connection string ...");
            var baseline = new Npgsql.NpgsqlConnectionStringBuilder(external);
            DatabaseConnectionStrings = Services.ToDictionary(s => s.Database, s => new Npgsql.NpgsqlConnectionStringBuilder(baseline.ConnectionString) { Database = s.Database }.ConnectionString);
            foreach (var (_, database, _) in Services) await EmbeddedPostgres.CreateDatabaseAsync(baseline.ConnectionString, database, cancellationToken);
        }
        else
        {
            progress?.Invoke("Starting PostgreSQL ...");
            _postgres = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = Options.DataDirectory, Port = Options.PostgresPort }, cancellationToken);
            foreach (var (_, database, _) in Services) await _postgres.CreateDatabaseAsync(database, cancellationToken);
            DatabaseConnectionStrings = Services.ToDictionary(s => s.Database, s => _postgres.ConnectionString(s.Database));
        }

        if (Options.KafkaBootstrapServers is { } servers)
        {
            progress?.Invoke($"Using the Kafka cluster at {servers} ...");
            KafkaBootstrapServers = servers;
        }
        else
        {
            progress?.Invoke("Starting the embedded Kafka-protocol broker (in memory, for development only) ...");
            _kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions
            {
                Partitions = Options.Partitions,
                Topics = [.. Contracts.Topics.All, .. Contracts.Topics.All.Select(t => t + ".dlq")],
            });
            KafkaBootstrapServers = _kafka.BootstrapServers;
        }
    }

    private async Task StartServicesAsync(Action<string>? progress, CancellationToken cancellationToken)
    {
        var root = Options.RepositoryRoot ?? FindRepositoryRoot();
        var urls = Services.ToDictionary(s => s.Name, s => Enumerable.Range(0, Options.Replicas.GetValueOrDefault(s.Name, 1))
            .Select(replica => $"http://127.0.0.1:{PortFor(s.Name, replica).ToString(CultureInfo.InvariantCulture)}").ToList());
        foreach (var (name, database, project) in Services)
        {
            var assembly = Path.Combine(root, "services", name, "bin", Options.Configuration, "net10.0", project + ".dll");
            for (var replica = 0; replica < urls[name].Count; replica++)
            {
                var label = urls[name].Count == 1 ? name : $"{name}-{replica + 1}";
                _services.Add(new ServiceProcess(new ServiceDefinition(name, database, assembly), label, urls[name][replica],
                    Environment(name, label, database, urls[name][replica], urls), Options.Output));
            }
        }

        progress?.Invoke("Starting the services: " + string.Join(", ", _services.Select(s => s.Label)) + " ...");
        foreach (var service in _services) await service.StartAsync();
        await Task.WhenAll(_services.Select(s => s.WaitHealthyAsync(_http, Options.HealthTimeout, cancellationToken)));
    }

    /// <summary>Exactly what the Aspire AppHost injects, plus the caller's extra settings.</summary>
    private Dictionary<string, string?> Environment(string name, string label, string database, string url, IReadOnlyDictionary<string, List<string>> urls)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__kafka"] = KafkaBootstrapServers,
            [$"ConnectionStrings__{database}"] = DatabaseConnectionStrings[database],
            ["ASPNETCORE_URLS"] = url,
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["OTEL_SERVICE_NAME"] = name,
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={label}-{Guid.NewGuid():N}",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        foreach (var (other, addresses) in urls)
            for (var i = 0; i < addresses.Count; i++) environment[$"services__{other}__http__{i.ToString(CultureInfo.InvariantCulture)}"] = addresses[i];
        if (Options.OtlpEndpoint is not null)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = Options.OtlpEndpoint;
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = Options.OtlpProtocol;
            // As the AppHost does in development: telemetry shows within a second, not five.
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
        }
        if (name == "orchestrator" && Options.TraceStore is not null) environment["Explorer__TraceStore"] = Options.TraceStore.ToString();
        if (_kafka is not null)
        {
            // The embedded broker holds each fetch for its full wait (a real broker answers at
            // once), and a consumer that died holds its partitions for a whole session.
            environment["Kafka__Consumer__fetch.wait.max.ms"] = "5";
            environment["Messaging__SessionTimeoutMs"] = "6000";
        }
        foreach (var (key, value) in Options.Settings) environment[key] = value;
        return environment;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_services.Select(s => s.StopAsync()));
        _kafka?.Dispose();
        if (_postgres is not null) await _postgres.DisposeAsync();
        _http.Dispose();
    }

    public static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "SagaAspire.sln"))) return directory.FullName;
        }
        throw new DevHostException("Cannot find the SagaAspire repository (SagaAspire.sln) above the current folder; run the DevHost from the repository.");
    }

    /// <summary>The order in which services take ports from <see cref="SagaSystemOptions.BasePort"/> (as the .http files expect).</summary>
    private static readonly string[] PortOrder = ["order", "orchestrator", "inventory", "payment"];

    private int PortFor(string service, int replica)
    {
        if (Options.BasePort == 0) return LoopbackPorts.Free();
        var port = Options.BasePort + Array.IndexOf(PortOrder, service) + PortOrder.Length * replica;
        try
        {
            using var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
        }
        catch (SocketException)
        {
            throw new DevHostException($"Port {port} (for {service}) is taken; another SagaAspire may be running. Stop it, or choose other ports with --base-port <n> (0 for any free ports).");
        }
        return port;
    }
}
