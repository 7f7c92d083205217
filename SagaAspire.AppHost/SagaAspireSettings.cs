using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Npgsql;
using SagaAspire.Embedded;

namespace SagaAspire.AppHost;

/// <summary>Where Kafka and PostgreSQL come from.</summary>
internal enum Infrastructure
{
    /// <summary>Containers (Docker or Podman): PostgreSQL, the Kafka broker, Kafka UI and pgAdmin.</summary>
    Containers,

    /// <summary>Processes on this machine: PostgreSQL from its server binaries, the embedded Kafka-protocol broker.</summary>
    Embedded,

    /// <summary>Your own servers, named by ConnectionStrings:kafka and ConnectionStrings:postgres.</summary>
    Existing,
}

/// <summary>
/// The AppHost's own settings, from the <c>SagaAspire</c> configuration section (command line
/// <c>--SagaAspire:Infrastructure=embedded</c>, environment <c>SagaAspire__Infrastructure</c>, or
/// appsettings.json). Read once, before the model is built; a wrong value stops the AppHost with
/// a message naming the setting.
/// </summary>
internal sealed record SagaAspireSettings
{
    public const string Section = "SagaAspire";

    /// <summary>The services in the order their HTTP ports follow <see cref="BasePort"/>.</summary>
    public static readonly string[] Services = ["order", "orchestrator", "inventory", "payment", "delivery"];

    public required Infrastructure Infrastructure { get; init; }

    /// <summary>Why <see cref="Infrastructure"/> was chosen, in words for the log.</summary>
    public required string Reason { get; init; }

    /// <summary>Keep PostgreSQL's data between runs (a data folder, or a container volume).</summary>
    public bool PersistData { get; init; } = true;

    /// <summary>The embedded PostgreSQL server's data folder, when <see cref="PersistData"/>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Where the PostgreSQL server binaries are; null searches the machine.</summary>
    public string? PostgresBinaries { get; init; }

    /// <summary>pgAdmin beside the PostgreSQL container.</summary>
    public bool PgAdmin { get; init; }

    /// <summary>HTTP port of order; orchestrator, inventory, payment and delivery follow. 0: ports of Aspire's choosing.</summary>
    public int BasePort { get; init; } = 5080;

    /// <summary>Replicas per service.</summary>
    public required IReadOnlyDictionary<string, int> Replicas { get; init; }

    /// <summary>Partitions of each topic of the embedded broker.</summary>
    public int Partitions { get; init; } = 4;

    /// <summary>How long the embedded broker's "Broker outage" command takes it down.</summary>
    public TimeSpan OutageDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The share of sagas the services trace, whole (1: every one). Below 1 the services sample
    /// parent-based by trace id, so a saga's spans are all kept or all dropped, at their source.
    /// </summary>
    public double TraceSampling { get; init; } = 1;

    public int? PortOf(string service) => BasePort == 0 ? null : BasePort + Array.IndexOf(Services, service);

    public static SagaAspireSettings Read(IDistributedApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(Section);
        var repository = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        var binaries = section["PostgresBinaries"] is { Length: > 0 } folder ? Path.GetFullPath(folder) : null;
        var (infrastructure, reason) = ChooseInfrastructure(builder, section["Infrastructure"], binaries);
        var settings = new SagaAspireSettings
        {
            Infrastructure = infrastructure,
            Reason = reason,
            PersistData = Flag(section, "PersistData", true),
            DataDirectory = Path.GetFullPath(section["DataDirectory"] is { Length: > 0 } data ? data : Path.Combine(repository, ".data", "postgres")),
            PostgresBinaries = binaries,
            PgAdmin = Flag(section, "PgAdmin", false),
            BasePort = Number(section, "BasePort", 5080, 0, 65536 - Services.Length), // the last service on 65535
            Replicas = ReadReplicas(section["Replicas"]),
            Partitions = Number(section, "Partitions", 4, 1, 1000),
            OutageDuration = TimeSpan.FromSeconds(Number(section, "OutageSeconds", 15, 1, 3600)),
            TraceSampling = Share(section, "TraceSampling", 1),
        };
        if (infrastructure == Infrastructure.Existing) CheckExistingServers(builder.Configuration);
        // Aspire.Hosting.Testing moves every port (DcpPublisher:RandomizePorts), so the fixed ones are not used then.
        if (builder.ExecutionContext.IsRunMode && settings.BasePort != 0 && !(bool.TryParse(builder.Configuration["DcpPublisher:RandomizePorts"], out var randomized) && randomized))
            CheckPortsFree(settings);
        return settings;
    }

    private static (Infrastructure, string) ChooseInfrastructure(IDistributedApplicationBuilder builder, string? configured, string? binaries)
    {
        const string Setting = $"{Section}:Infrastructure";
        Infrastructure? chosen = configured switch
        {
            null or "" => null,
            _ when Enum.TryParse<Infrastructure>(configured, ignoreCase: true, out var value) && !int.TryParse(configured, out _) => value,
            _ => throw new SettingException($"{Setting} is '{configured}'; it takes containers, embedded or existing."),
        };

        if (builder.ExecutionContext.IsPublishMode)
        {
            return chosen switch
            {
                null => (Infrastructure.Containers, "publishing: the manifest describes PostgreSQL and Kafka as containers"),
                Infrastructure.Embedded => throw new SettingException(
                    $"{Setting}=embedded runs PostgreSQL and the broker as processes on this machine, which a published manifest cannot describe. Publish with containers (the default) or existing."),
                var value => (value.Value, $"{Setting}={Name(value.Value)}"),
            };
        }

        switch (chosen)
        {
            case Infrastructure.Containers:
                if (ContainerRuntime.Probe() is { Answered: false } absent)
                    throw new SettingException($"{Setting}=containers, but no container runtime answers: {absent.Detail}. Start Docker or Podman, or use {Setting}=embedded (PostgreSQL and the broker as processes on this machine).");
                return (Infrastructure.Containers, $"{Setting}=containers");
            case Infrastructure.Embedded:
                CheckEmbedded(binaries, $"{Setting}=embedded");
                return (Infrastructure.Embedded, $"{Setting}=embedded");
            case Infrastructure.Existing:
                return (Infrastructure.Existing, $"{Setting}=existing");
        }

        var runtime = ContainerRuntime.Probe();
        if (runtime.Answered) return (Infrastructure.Containers, $"{runtime.Detail}; {Setting} chooses otherwise");
        CheckEmbedded(binaries, $"no container runtime answers ({runtime.Detail}), so the embedded infrastructure is the default");
        return (Infrastructure.Embedded, $"no container runtime answers ({runtime.Detail}); {Setting} chooses otherwise");
    }

    private static void CheckEmbedded(string? binaries, string why)
    {
        try
        {
            EmbeddedPostgres.FindBinaries(binaries);
        }
        catch (EmbeddedInfrastructureException error)
        {
            var setting = binaries is null ? "" : $" ({Section}:PostgresBinaries={binaries})";
            throw new SettingException($"{why}, and it needs the PostgreSQL server binaries{setting}. {error.Message}");
        }
    }

    private static void CheckExistingServers(IConfiguration configuration)
    {
        const string Why = $"{Section}:Infrastructure=existing uses your own servers";
        var kafka = configuration.GetConnectionString("kafka");
        if (string.IsNullOrWhiteSpace(kafka))
            throw new SettingException($"{Why}: set ConnectionStrings:kafka to their bootstrap servers, host:port[,host:port] (for example --ConnectionStrings:kafka=localhost:9092).");
        if (kafka.Split(',').Any(server => server.Trim().LastIndexOf(':') is var colon && (colon <= 0 || !int.TryParse(server.Trim()[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _))))
            throw new SettingException($"ConnectionStrings:kafka is '{kafka}'; it takes host:port[,host:port], for example localhost:9092.");
        var postgres = configuration.GetConnectionString("postgres");
        if (string.IsNullOrWhiteSpace(postgres))
            throw new SettingException($"{Why}: set ConnectionStrings:postgres to a connection string for the server, whose user may create databases (for example \"Host=localhost;Port=5432;Username=postgres;Password=...\").");
        try
        {
            _ = new NpgsqlConnectionStringBuilder(postgres);
        }
        catch (ArgumentException error)
        {
            throw new SettingException($"ConnectionStrings:postgres is not an Npgsql connection string: {error.Message}");
        }
    }

    /// <summary>Aspire would only log that it cannot listen, and the service would be unreachable: better to say so at once.</summary>
    private static void CheckPortsFree(SagaAspireSettings settings)
    {
        foreach (var service in Services)
        {
            var port = settings.PortOf(service)!.Value;
            try
            {
                using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                probe.Start();
            }
            catch (System.Net.Sockets.SocketException)
            {
                throw new SettingException($"Port {port} ({service}) is taken; another SagaAspire may be running. Stop it, or move the services with {Section}:BasePort=<n> " +
                    "(./build.sh run --base-port <n>; 0 leaves the ports to Aspire).");
            }
        }
    }

    private static Dictionary<string, int> ReadReplicas(string? text)
    {
        const string Setting = $"{Section}:Replicas";
        var replicas = Services.ToDictionary(s => s, _ => 1);
        if (string.IsNullOrWhiteSpace(text)) return replicas;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var (names, count) = part.Split('=', StringSplitOptions.TrimEntries) switch
            {
                [var n] => (Services, n),
                [var service, var n] when Services.Contains(service) => ([service], n),
                _ => throw new SettingException($"{Setting} takes n (every service) or service=n[,service=n] with services among {string.Join(", ", Services)}; '{part}' is neither."),
            };
            if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 8)
                throw new SettingException($"{Setting}: the number of replicas is a whole number from 1 to 8, not '{count}'.");
            foreach (var name in names) replicas[name] = number;
        }
        return replicas;
    }

    private static bool Flag(IConfiguration section, string key, bool fallback) => section[key] switch
    {
        null or "" => fallback,
        var text when bool.TryParse(text, out var value) => value,
        var text => throw new SettingException($"{Section}:{key} is '{text}'; it takes true or false."),
    };

    private static int Number(IConfiguration section, string key, int fallback, int min, int max) => section[key] switch
    {
        null or "" => fallback,
        var text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max => value,
        var text => throw new SettingException($"{Section}:{key} is '{text}'; it takes a whole number from {min} to {max}."),
    };

    private static double Share(IConfiguration section, string key, double fallback) => section[key] switch
    {
        null or "" => fallback,
        var text when double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value > 0 && value <= 1 => value,
        var text => throw new SettingException($"{Section}:{key} is '{text}'; it takes a share above 0 and at most 1 (0.1: one saga in ten)."),
    };

    private static string Name(Infrastructure infrastructure) => infrastructure.ToString().ToLowerInvariant();
}

/// <summary>A setting of the AppHost is wrong or missing; the message names it and says what to do.</summary>
internal sealed class SettingException(string message) : Exception(message);

/// <summary>
/// Whether a container runtime answers, asked the way Aspire itself asks (<c>docker container ls -n 1</c>,
/// or podman's), honouring ASPIRE_CONTAINER_RUNTIME. Aspire offers no public way to ask before the
/// model is built, which is when the choice of infrastructure must be made.
/// </summary>
internal static class ContainerRuntime
{
    public sealed record Answer(bool Answered, string Detail);

    public static Answer Probe()
    {
        var configured = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME");
        string[] candidates = string.IsNullOrWhiteSpace(configured) ? ["docker", "podman"] : [configured.Trim().ToLowerInvariant()];
        var failures = new List<string>();
        foreach (var runtime in candidates)
        {
            var (answered, detail) = Ask(runtime);
            if (answered) return new Answer(true, $"{runtime} answers");
            failures.Add($"{runtime}: {detail}");
        }
        return new Answer(false, string.Join("; ", failures));
    }

    private static (bool, string) Ask(string runtime)
    {
        var info = new ProcessStartInfo(runtime, ["container", "ls", "-n", "1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return (false, "no answer within 10 s");
            }
            if (process.ExitCode == 0) return (true, "");
            var firstLine = error.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            return (false, firstLine ?? $"exit code {process.ExitCode}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (false, "not installed");
        }
    }
}
