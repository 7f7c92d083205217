using System.Globalization;
using System.Runtime.InteropServices;
using SagaAspire.Embedded;
using SagaAspire.OtlpReceiver;

namespace SagaAspire.DevHost;

/// <summary>
/// The container-free host: PostgreSQL and the Kafka-protocol broker (or the ones you name), then
/// the four services as separate processes, each with the configuration an Aspire AppHost would
/// inject. Ctrl+C stops everything; if the host itself is killed, its children die with it.
/// </summary>
internal static class DevHostCommand
{
    private static readonly Lock ConsoleGate = new();

    public static async Task<int> RunAsync(string[] args)
    {
        DevHostOptions options;
        try
        {
            options = DevHostOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"devhost: {ex.Message}\n\n{DevHostOptions.Usage}");
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(DevHostOptions.Usage);
            return 0;
        }

        // Ctrl+C (SIGINT) and SIGTERM both end in the same orderly shutdown of the services, the
        // broker and the database; the default handling, which would end the process at once, is
        // cancelled. (Were the DevHost killed outright, its children would still die with it.)
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            _ = Task.Run(stop.Cancel);
        }
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        try
        {
            if (options.Reset && Directory.Exists(options.DataDirectory))
            {
                Directory.Delete(options.DataDirectory, recursive: true);
                Say($"Reset: removed {options.DataDirectory}");
            }

            // Without an Aspire dashboard, the DevHost receives the services' telemetry itself.
            await using var traces = options.Otlp is null
                ? await OtlpTraceReceiver.StartAsync(options.BasePort == 0 ? 0 : options.BasePort + 10, options.BasePort == 0 ? 0 : options.BasePort + 11)
                : null;
            await using var system = await SagaSystem.StartAsync(new SagaSystemOptions
            {
                OtlpEndpoint = options.Otlp ?? traces!.HttpEndpoint.ToString().TrimEnd('/'),
                OtlpProtocol = options.Otlp is null ? "http/protobuf" : options.OtlpProtocol,
                TraceStore = traces?.HttpEndpoint,
                DataDirectory = options.DataDirectory,
                PostgresPort = options.PostgresPort,
                BasePort = options.BasePort,
                Replicas = options.Replicas,
                Partitions = options.Partitions,
                KafkaBootstrapServers = options.Kafka,
                PostgresConnectionString = options.Postgres,
                Configuration = options.Configuration,
                Output = options.Quiet ? null : (service, line) => Say($"{service,-12}| {line}"),
            }, Say, stop.Token);

            PrintTable(system, options, traces);
            await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            Say("Stopping ...");
            return 0;
        }
        catch (Exception ex) when (ex is EmbeddedInfrastructureException or DevHostException)
        {
            await Console.Error.WriteLineAsync($"devhost: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }

    private static void PrintTable(SagaSystem system, DevHostOptions options, OtlpTraceReceiver? traces)
    {
        IEnumerable<string> Replicas(string title, string service, string path) =>
            system.Replicas(service).Select(p => $"  {(p.Label == service ? title : $"{title} #{p.Label[(p.Label.LastIndexOf('-') + 1)..]}"),-22} {p.Url}{path}");
        var order = system.Service("order").Url;
        List<string> lines =
        [
            "",
            "SagaAspire is running.",
            "",
            $"  {"Saga Explorer",-22} {system.Service("orchestrator").Url}/explorer/   (open it in a browser)",
            .. Replicas("order API", "order", "/orders"),
            .. Replicas("orchestrator (sagas)", "orchestrator", "/sagas"),
            .. Replicas("inventory", "inventory", "/inventory"),
            .. Replicas("payment", "payment", "/payments"),
            $"  {"Kafka",-22} {system.KafkaBootstrapServers}{(system.EmbeddedKafka is null ? "" : $"  (embedded, in memory, {options.Partitions.ToString(CultureInfo.InvariantCulture)} partitions per topic)")}",
            $"  {"traces",-22} {(traces is null ? $"sent to {options.Otlp}" : $"{traces.HttpEndpoint}traces/<traceId>  (OTLP received here; every order answer carries its traceId)")}",
            $"  {"PostgreSQL",-22} {(system.EmbeddedPostgres is { } pg ? $"127.0.0.1:{pg.Port.ToString(CultureInfo.InvariantCulture)}  (data in {pg.DataDirectory})" : "the server you named")}",
            "",
            "Place an order:",
            $"  curl -si {order}/orders -H 'Content-Type: application/json' \\",
            "    -d '{\"orderId\":\"o-1001\",\"sku\":\"ABC\",\"quantity\":2,\"amount\":149.99,\"currency\":\"USD\"}'",
            "Then follow it in the Saga Explorer, or:",
            $"  curl -s {order}/orders/o-1001",
            $"  curl -s '{system.Service("orchestrator").Url}/sagas?orderId=o-1001'",
            "",
            "Press Ctrl+C to stop.",
            "",
        ];
        Say(string.Join(Environment.NewLine, lines));
    }

    private static void Say(string line)
    {
        lock (ConsoleGate) Console.WriteLine(line);
    }
}
