using System.Globalization;

namespace SagaAspire.Embedded.Server;

/// <summary>The options of either server, from the command line with the environment as fallback.</summary>
internal sealed record ServerArguments
{
    public const string Usage = """
        Usage:
          SagaAspire.Embedded.Server kafka [--port <n>] [--control-port <n>] [--partitions <n>] [--topic <name>]...
          SagaAspire.Embedded.Server postgres [--port <n>] [--data <dir> [--temporary]]

          kafka     the embedded Kafka-protocol broker (librdkafka's mock cluster, in memory); bootstrap
                    servers on 127.0.0.1:<port> (KAFKA_PORT), an HTTP control endpoint on
                    127.0.0.1:<control-port> (CONTROL_PORT): GET / for its state, POST /outage?seconds=n
                    to take it down for a while (its messages are kept), POST /up to end that early
          postgres  a PostgreSQL server from this machine's binaries on 127.0.0.1:<port> (POSTGRES_PORT),
                    data in <dir> (created when empty; removed at exit with --temporary; without
                    --data a temporary folder)
        """;

    public int? Port { get; init; }
    public int? ControlPort { get; init; }
    public int Partitions { get; init; } = 4;
    public IReadOnlyList<string> Topics { get; init; } = [];
    public string? DataDirectory { get; init; }
    public bool Temporary { get; init; }

    public static ServerArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new ServerArguments
        {
            Port = Environment("KAFKA_PORT") ?? Environment("POSTGRES_PORT"),
            ControlPort = Environment("CONTROL_PORT"),
        };
        var topics = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            parsed = args[i] switch
            {
                "--port" => parsed with { Port = Number(args, ref i, 1, 65535) },
                "--control-port" => parsed with { ControlPort = Number(args, ref i, 1, 65535) },
                "--partitions" => parsed with { Partitions = Number(args, ref i, 1, 1000) },
                "--data" => parsed with { DataDirectory = Path.GetFullPath(Value(args, ref i)) },
                "--topic" => parsed with { Topics = [.. parsed.Topics, Value(args, ref i)] },
                "--temporary" => parsed with { Temporary = true },
                var unknown => throw new ServerArgumentException($"unknown option '{unknown}'\n\n{Usage}"),
            };
        }
        return parsed;
    }

    public static int PrintUsage(TextWriter writer, int exitCode)
    {
        writer.WriteLine(Usage);
        return exitCode;
    }

    /// <summary>The port, which the server cannot choose itself: whoever starts it must know where it listens.</summary>
    public int RequiredPort(string option, string variable, int? value) =>
        value ?? throw new ServerArgumentException($"{option} (or the environment variable {variable}) is required");

    private static int? Environment(string variable)
    {
        var text = System.Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text)) return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new ServerArgumentException($"{variable} must be a port number from 1 to 65535, not '{text}'");
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ServerArgumentException($"{args[i - 1]} needs a value");

    private static int Number(IReadOnlyList<string> args, ref int i, int min, int max)
    {
        var name = args[i];
        var text = Value(args, ref i);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ServerArgumentException($"{name} must be a whole number from {min} to {max}, not '{text}'");
    }
}

/// <summary>The command line or environment is wrong; the message says how.</summary>
internal sealed class ServerArgumentException(string message) : Exception(message);
