using System.Globalization;

namespace SagaAspire.DevHost;

/// <summary>Command-line options of the DevHost.</summary>
internal sealed record DevHostOptions
{
    public const string Usage = """
        Usage: dotnet run --project SagaAspire.DevHost -- [options]   (./build.sh run starts the Aspire AppHost instead)

          --data <dir>        PostgreSQL data folder (default: .devhost/postgres, kept between runs)
          --reset             delete the data folder first and start from empty databases
          --postgres-port <n> PostgreSQL port on 127.0.0.1 (default: a free port)
          --base-port <n>     order, orchestrator, inventory, payment on n, n+1, n+2, n+3 (default: 5080; 0: any free ports)
          --replicas <n>      run every service n times; or --replicas <service>=<n>, repeatable
          --partitions <n>    partitions per Kafka topic (default: 4)
          --kafka <servers>   use this Kafka cluster (host:port[,host:port]) instead of the embedded broker
          --postgres <conn>   use this PostgreSQL server (Npgsql connection string) instead of a local one
          --configuration <c> build configuration of the services to run (default: Debug)
          --otlp <endpoint>   send the services' telemetry there (an Aspire dashboard, a collector)
                              instead of receiving traces in the DevHost; with --otlp-protocol grpc|http/protobuf
          --quiet             do not stream the services' logs
          --help              this text

        The environment variables ConnectionStrings__kafka and ConnectionStrings__postgres are
        read as --kafka and --postgres when those are not given.
        """;

    public string DataDirectory { get; init; } = Path.GetFullPath(Path.Combine(".devhost", "postgres"));
    public bool Reset { get; init; }
    public int PostgresPort { get; init; }
    public int Partitions { get; init; } = 4;
    public int BasePort { get; init; } = 5080;
    public IReadOnlyDictionary<string, int> Replicas { get; init; } = new Dictionary<string, int>();
    public bool Help { get; init; }
    public string? Kafka { get; init; } = Environment.GetEnvironmentVariable("ConnectionStrings__kafka");
    public string? Postgres { get; init; } = Environment.GetEnvironmentVariable("ConnectionStrings__postgres");
    public string Configuration { get; init; } = "Debug";
    public bool Quiet { get; init; }
    public string? Otlp { get; init; }
    public string OtlpProtocol { get; init; } = "grpc";

    public static DevHostOptions Parse(IReadOnlyList<string> args)
    {
        var options = new DevHostOptions();
        for (var i = 0; i < args.Count; i++)
        {
            options = args[i] switch
            {
                "--data" => options with { DataDirectory = Path.GetFullPath(Value(args, ref i)) },
                "--reset" => options with { Reset = true },
                "--postgres-port" => options with { PostgresPort = Number(args, ref i, 1, 65535) },
                "--partitions" => options with { Partitions = Number(args, ref i, 1, 1000) },
                "--base-port" => options with { BasePort = Number(args, ref i, 0, 65532) },
                "--replicas" => options with { Replicas = WithReplicas(options.Replicas, Value(args, ref i)) },
                "--kafka" => options with { Kafka = Value(args, ref i) },
                "--postgres" => options with { Postgres = Value(args, ref i) },
                "--configuration" or "-c" => options with { Configuration = Value(args, ref i) },
                "--quiet" => options with { Quiet = true },
                "--otlp" => options with { Otlp = Value(args, ref i) },
                "--otlp-protocol" => options with { OtlpProtocol = Protocol(Value(args, ref i)) },
                "--help" or "-h" => options with { Help = true },
                var unknown => throw new ArgumentException($"unknown option '{unknown}'"),
            };
        }
        return options;
    }

    private static readonly string[] ServiceNames = [.. SagaSystem.Services.Select(s => s.Name)];

    private static Dictionary<string, int> WithReplicas(IReadOnlyDictionary<string, int> current, string text)
    {
        var replicas = new Dictionary<string, int>(current);
        var (names, count) = text.Split('=') switch
        {
            [var n] => (ServiceNames, n),
            [var service, var n] when ServiceNames.Contains(service) => (new[] { service }, n),
            _ => throw new ArgumentException($"--replicas takes n or service=n with a service among {string.Join(", ", ServiceNames)}, not '{text}'"),
        };
        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 8)
            throw new ArgumentException($"--replicas must be a whole number from 1 to 8, not '{count}'");
        foreach (var name in names) replicas[name] = number;
        return replicas;
    }

    private static string Protocol(string value) =>
        value is "grpc" or "http/protobuf" ? value : throw new ArgumentException($"--otlp-protocol is grpc or http/protobuf, not '{value}'");

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static int Number(IReadOnlyList<string> args, ref int i, int min, int max)
    {
        var name = args[i];
        var text = Value(args, ref i);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{name} must be a whole number from {min} to {max}, not '{text}'");
    }
}
