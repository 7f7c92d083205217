using System.Globalization;
using System.Reflection;
using System.Text.Json;
using SagaAspire.Scenarios;

namespace SagaAspire.Load;

/// <summary>The command line of the load tool: parse, start or reach the system, run, report.</summary>
internal static class LoadCommand
{
    private const string Usage = """
        SagaAspire load and chaos runs.

          dotnet run -c Release --project tests/SagaAspire.Load -- [options]

        Load
          --rate N            open loop: N sagas/s at fixed intended times (latency counts from them)
          --closed N          closed loop: N workers, each places an order and waits for its final state (default 64)
          --count N           orders to send after the warm-up (default 1000 when no --duration)
          --duration 60s      send for this long after the warm-up (with --count: whichever ends first)
          --warmup 5s         load at the same settings before the figures start (default 0)
          --mix success=75,declined=12,outofstock=5,undeliverable=5,noslot=3   (the default; a kind not named weighs 0)
                              declined: the payment declines; outofstock: a product with no stock; undeliverable: a country
                              the delivery service does not serve (AQ); noslot: a load area with no delivery slot on any day (QZ)
          --skus N            stocked products the orders spread over, 1 to 64 (default 64; 1 is a single hot row)
        Faults (any subset, comma-separated)
          --chaos kill,broker,postgres,loss,duplicate,poison
          --chaos-interval 10s   time between two faults of kill, broker, postgres, loss (they take turns)
          --outage 3s            how long a killed service, the broker or PostgreSQL stays down
          --poison-rate 2        malformed messages per second
          --recovery-timeout 180s  bound on the time every saga takes to finish after the load
        System (default: start one here through the AppHost, embedded infrastructure, dashboard on)
          --replicas N | service=N[,service=N]   processes per service
          --partitions N      partitions per topic (default 4)
          --set Key=Value     an extra setting for every service (repeatable), e.g. --set Orchestrator__StepTimeout=00:00:05
          --target URL        use a running system's order API instead (needs --postgres; --kafka for message faults and dead letters)
          --postgres "Host=...;Username=...;Password=..."   its PostgreSQL server (databases orders, orchestrator, inventory, payment, delivery)
          --kafka host:port   its Kafka bootstrap servers
        Report
          --ceiling 10s       pgbench -N on the same server for the ceiling reference (--no-ceiling skips it)
          --json report.json  write the report as JSON too
          --service-log FILE  the services' log lines (warnings and errors) go to FILE
          --run-id ID         prefix of this run's order ids
        The exit code is 0 when every invariant holds, 1 when one does not, 2 for a usage error,
        3 when the system it starts does not start (a process of it stopped; the error shows its last output).
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ParsedCommand parsed;
        try
        {
            parsed = Parse(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}\n\n{Usage}");
            return 2;
        }
        if (parsed.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        var display = new ProgressDisplay();
        void Log(string line) => display.Log(line);

        SystemUnderTest system;
        if (parsed.Target is { } target)
        {
            system = await SystemUnderTest.TargetAsync(target, parsed.Postgres!, parsed.Kafka, cancel.Token);
        }
        else
        {
            var configuration = typeof(LoadCommand).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
            var serviceLog = parsed.ServiceLog is { } path ? TextWriter.Synchronized(new StreamWriter(path) { AutoFlush = true }) : null;
            try
            {
                system = await SystemUnderTest.StartAsync(new AppHostSystemOptions
                {
                    Output = serviceLog is null ? null : (service, line) => serviceLog.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {service}: {line}"),
                    Replicas = parsed.Replicas,
                    Partitions = parsed.Partitions,
                    Settings = parsed.Settings,
                }, Log, cancel.Token);
            }
            catch (SystemDidNotStartException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 3;
            }
            Log($"system: started ({configuration} build); PostgreSQL {system.Server.Host}:{system.Server.Port}, Kafka {system.KafkaBootstrapServers}");
        }

        await using (system)
        {
            LoadReport report;
            try
            {
                report = await LoadRun.ExecuteAsync(system, parsed.Load, Log, display.Show, cancel.Token);
            }
            finally
            {
                display.Done();
            }
            Console.WriteLine(report.Summary());
            if (parsed.Json is { } json)
            {
                await File.WriteAllTextAsync(json, JsonSerializer.Serialize(report, LoadReportJson.Default.LoadReport));
                Log($"report: {Path.GetFullPath(json)}");
            }
            return report.InvariantsHold ? 0 : 1;
        }
    }

    private sealed record ParsedCommand
    {
        public bool Help { get; init; }
        public LoadSettings Load { get; init; } = new();
        public Dictionary<string, int> Replicas { get; init; } = [];
        public int Partitions { get; init; } = 4;
        public Dictionary<string, string?> Settings { get; init; } = [];
        public Uri? Target { get; init; }
        public string? Postgres { get; init; }
        public string? Kafka { get; init; }
        public string? Json { get; init; }
        public string? ServiceLog { get; init; }
    }

    private static ParsedCommand Parse(string[] args)
    {
        var command = new ParsedCommand();
        var load = new LoadSettings();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{name} needs a value.");
            long Number() => long.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"{name} needs a positive whole number.");
            double Real() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"{name} needs a positive number.");
            switch (name)
            {
                case "-h" or "--help": return command with { Help = true };
                case "--rate": load = load with { Rate = Real() }; break;
                case "--closed": load = load with { Rate = null, Workers = (int)Number() }; break;
                case "--count": load = load with { Count = Number() }; break;
                case "--duration": load = load with { Duration = LoadSettings.ParseDuration(Value()) }; break;
                case "--warmup": load = load with { Warmup = LoadSettings.ParseDuration(Value()) }; break;
                case "--skus": load = load with { Skus = (int)Math.Min(Number(), SystemUnderTest.StockedSkuCount) }; break;
                case "--mix": load = load with { Mix = OutcomeMix.Parse(Value()) }; break;
                case "--chaos": load = load with { Chaos = LoadSettings.ParseChaos(Value()) }; break;
                case "--chaos-interval": load = load with { ChaosInterval = LoadSettings.ParseDuration(Value()) }; break;
                case "--outage": load = load with { OutageLength = LoadSettings.ParseDuration(Value()) }; break;
                case "--poison-rate": load = load with { PoisonPerSecond = Real() }; break;
                case "--recovery-timeout": load = load with { RecoveryTimeout = LoadSettings.ParseDuration(Value()) }; break;
                case "--ceiling": load = load with { Ceiling = LoadSettings.ParseDuration(Value()) }; break;
                case "--no-ceiling": load = load with { Ceiling = null }; break;
                case "--run-id": load = load with { RunId = Value() }; break;
                case "--json": command = command with { Json = Value() }; break;
                case "--service-log": command = command with { ServiceLog = Value() }; break;
                case "--partitions": command = command with { Partitions = (int)Number() }; break;
                case "--replicas": command = command with { Replicas = ParseReplicas(Value()) }; break;
                case "--set":
                    var setting = Value().Split('=', 2);
                    if (setting.Length != 2) throw new FormatException("--set needs Key=Value.");
                    command.Settings[setting[0]] = setting[1];
                    break;
                case "--target": command = command with { Target = new Uri(Value()) }; break;
                case "--postgres": command = command with { Postgres = Value() }; break;
                case "--kafka": command = command with { Kafka = Value() }; break;
                default: throw new FormatException($"Unknown option '{name}'.");
            }
        }
        if (command.Target is not null && command.Postgres is null)
            throw new FormatException("--target needs --postgres: the invariants read every service's database.");
        return command with { Load = load };
    }

    private static Dictionary<string, int> ParseReplicas(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var all))
            return AppHostSystem.Services.ToDictionary(s => s.Name, _ => all);
        var replicas = new Dictionary<string, int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2);
            if (pair.Length != 2 || !AppHostSystem.Services.Any(s => s.Name == pair[0]) || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                throw new FormatException($"'{part}' is not service=count (services: {string.Join(", ", AppHostSystem.Services.Select(s => s.Name))}).");
            replicas[pair[0]] = n;
        }
        return replicas;
    }
}

/// <summary>
/// Progress on stderr: one line refreshed in place on a terminal, a plain line every five seconds
/// otherwise (a CI log). Log lines go above it.
/// </summary>
internal sealed class ProgressDisplay
{
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _gate = new();
    private string _last = "";
    private DateTime _lastPlain = DateTime.MinValue;

    public void Show(ProgressSnapshot p)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{p.Phase}] {p.Elapsed.TotalSeconds,6:0.0} s  sent {p.Sent}  accepted {p.Accepted}  final {p.Final}  in flight {p.InFlight}  {p.SagasPerSecond,7:0.0} sagas/s  errors {p.Errors}");
        lock (_gate)
        {
            if (_terminal)
            {
                Console.Error.Write("\r" + line.PadRight(Math.Max(_last.Length, line.Length)));
                _last = line;
            }
            else if (DateTime.UtcNow - _lastPlain >= TimeSpan.FromSeconds(5))
            {
                Console.Error.WriteLine(line);
                _lastPlain = DateTime.UtcNow;
            }
        }
    }

    public void Log(string message)
    {
        lock (_gate)
        {
            if (_terminal && _last.Length > 0) Console.Error.Write("\r" + new string(' ', _last.Length) + "\r");
            Console.Error.WriteLine(message);
            if (_terminal && _last.Length > 0) Console.Error.Write(_last);
        }
    }

    public void Done()
    {
        lock (_gate)
        {
            if (_terminal && _last.Length > 0) Console.Error.WriteLine();
            _last = "";
        }
    }
}
