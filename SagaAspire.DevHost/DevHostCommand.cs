using System.Globalization;
using SagaAspire.Embedded;

namespace SagaAspire.DevHost;

/// <summary>
/// The container-free host: starts the infrastructure an Aspire AppHost would provision and prints
/// the configuration the services read.
/// </summary>
internal static class DevHostCommand
{
    /// <summary>Databases, one per service, named as the AppHost's database resources.</summary>
    public static readonly string[] Databases = ["orders", "orchestrator", "inventory", "payment"];

    /// <summary>The saga's topics and their dead-letter topics.</summary>
    public static readonly string[] Topics =
        ["orders", "inventory.commands", "inventory.events", "payments.commands", "payment.events", "orchestrator.events"];

    public static async Task<int> RunAsync(string[] args)
    {
        DevHostOptions options;
        try
        {
            options = DevHostOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"devhost: {ex.Message}\n\n{DevHostOptions.Usage}").ConfigureAwait(false);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(DevHostOptions.Usage);
            return 0;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

        try
        {
            if (options.Reset && Directory.Exists(options.DataDirectory))
            {
                Directory.Delete(options.DataDirectory, recursive: true);
                Console.WriteLine($"Reset: removed {options.DataDirectory}");
            }

            Console.WriteLine("Starting PostgreSQL ...");
            await using var postgres = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
            {
                DataDirectory = options.DataDirectory, Port = options.PostgresPort,
            }, stop.Token).ConfigureAwait(false);
            foreach (var database in Databases) await postgres.CreateDatabaseAsync(database, stop.Token).ConfigureAwait(false);

            Console.WriteLine("Starting the embedded Kafka-protocol broker (in memory, for development only) ...");
            using var kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions
            {
                Partitions = options.Partitions,
                Topics = [.. Topics, .. Topics.Select(t => t + ".dlq")],
            });

            PrintEnvironment(postgres, kafka, options);
            Console.WriteLine("Press Ctrl+C to stop.");
            await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            Console.WriteLine("Stopping ...");
            return 0;
        }
        catch (EmbeddedInfrastructureException ex)
        {
            await Console.Error.WriteLineAsync($"devhost: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }

    private static void PrintEnvironment(EmbeddedPostgres postgres, EmbeddedKafka kafka, DevHostOptions options)
    {
        Console.WriteLine();
        Console.WriteLine($"PostgreSQL  127.0.0.1:{postgres.Port.ToString(CultureInfo.InvariantCulture)}  data in {options.DataDirectory}");
        Console.WriteLine($"Kafka       {kafka.BootstrapServers}  ({options.Partitions} partitions per topic, in memory)");
        Console.WriteLine();
        Console.WriteLine("The configuration a service receives (as the Aspire AppHost would inject it):");
        Console.WriteLine($"  ConnectionStrings__kafka={kafka.BootstrapServers}");
        foreach (var database in Databases)
            Console.WriteLine($"  ConnectionStrings__{database}={postgres.ConnectionString(database)}");
        Console.WriteLine();
    }
}
