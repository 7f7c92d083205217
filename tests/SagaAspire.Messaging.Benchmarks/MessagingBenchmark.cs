using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SagaAspire.Embedded;

namespace SagaAspire.Messaging.Benchmarks;

/// <summary>
/// Measures the messaging building block with everything on this machine, in one run:
/// (1) raw Confluent.Kafka produce, the ceiling; (2) outbox relay throughput, from committed rows
/// to acknowledged and deleted; (3) hop latency at a fixed rate, from the commit of the writing
/// transaction to the start of the handler in the consuming service.
/// </summary>
internal static class MessagingBenchmark
{
    private const string Usage = """
        Usage: dotnet run -c Release --project tests/SagaAspire.Messaging.Benchmarks -- [options]
          --messages <n>   messages for the throughput runs (default 100000)
          --rate <n>       messages per second for the latency run (default 1000)
          --seconds <n>    length of the latency run (default 10)
          --payload <n>    padding bytes per message (default 200)
          --warmup <n>     seconds at the latency run's rate before measuring (default 10)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        int messages = 100_000, rate = 1000, seconds = 10, payload = 200, warmupSeconds = 10;
        for (var i = 0; i < args.Length; i++)
        {
            int Next() => i + 1 < args.Length && int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n : throw new ArgumentException($"{args[i - 1]} needs a positive whole number");
            try
            {
                switch (args[i])
                {
                    case "--messages": messages = Next(); break;
                    case "--rate": rate = Next(); break;
                    case "--seconds": seconds = Next(); break;
                    case "--payload": payload = Next(); break;
                    case "--warmup": warmupSeconds = Next(); break;
                    case "--help": Console.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"benchmark: {ex.Message}\n{Usage}");
                return 2;
            }
        }

        var padding = new string('x', payload);
        Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, librdkafka {Library.VersionString}");
        Console.WriteLine($"Settings: warm-up {warmupSeconds} s, relay batch {new MessagingOptions().RelayBatchSize}, consumer fetch.wait.max.ms {FetchWaitMaxMs}, payload padding {payload} bytes, 4 partitions");
        Console.WriteLine("Starting PostgreSQL and the embedded Kafka-protocol broker (all in this machine) ...");
        await using var postgres = await EmbeddedPostgres.StartAsync();
        using var kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Partitions = 4, Topics = ["bench.raw", "bench.relay", "bench.hop", "bench.hop.dlq"] });

        var raw = RawProduce(kafka.BootstrapServers, messages, padding);
        Console.WriteLine($"[1/3] raw produce: {raw:N0} msg/s");

        var relay = await RelayThroughputAsync(postgres, kafka, messages, padding);
        Console.WriteLine($"[2/3] outbox relay: {relay:N0} msg/s");

        var hop = await HopLatencyAsync(postgres, kafka, rate, seconds, warmupSeconds, padding);

        Console.WriteLine();
        Console.WriteLine("| measure | result |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| raw Confluent.Kafka produce (idempotent, acks=all), {messages:N0} msgs | {raw:N0} msg/s |");
        Console.WriteLine($"| outbox relay, committed rows to acknowledged and deleted, {messages:N0} msgs | {relay:N0} msg/s |");
        Console.WriteLine($"| relay / raw produce | {relay / raw:P0} |");
        Console.WriteLine($"| hop latency at {rate:N0} msg/s for {seconds} s ({hop.Count:N0} msgs): p50 / p90 / p99 / max | {hop.P50:F1} / {hop.P90:F1} / {hop.P99:F1} / {hop.Max:F1} ms |");
        Console.WriteLine($"| achieved write rate / lost | {hop.AchievedRate:N0} msg/s / {hop.Lost} |");
        return hop.Lost == 0 ? 0 : 1;
    }

    private static double RawProduce(string bootstrap, int count, string padding)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All, LingerMs = 1,
        }).Build();
        var body = System.Text.Encoding.UTF8.GetBytes($$"""{"id":0,"padding":"{{padding}}"}""");
        var failed = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            while (true)
            {
                try
                {
                    producer.Produce("bench.raw", new Message<string, byte[]> { Key = $"saga-{i % 997}", Value = body },
                        r => { if (r.Error.IsError) Interlocked.Increment(ref failed); });
                    break;
                }
                catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }
        producer.Flush(TimeSpan.FromMinutes(2));
        clock.Stop();
        if (failed > 0) throw new InvalidOperationException($"{failed} raw produces failed");
        return count / clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> RelayThroughputAsync(EmbeddedPostgres postgres, EmbeddedKafka kafka, int count, string padding)
    {
        await postgres.CreateDatabaseAsync("relay");
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString("relay"));
        await SchemaMigrator.ApplyAsync(dataSource, MessagingSchema.Component, MessagingSchema.Migrations, NullLogger.Instance);
        var outbox = new Outbox(new MessageTypes([BenchContracts.Default]));
        Console.Write($"      filling the outbox with {count:N0} committed rows ... ");
        for (var written = 0; written < count; written += 1000)
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await outbox.EnqueueAsync(transaction, [.. Enumerable.Range(written, Math.Min(1000, count - written))
                .Select(i => new OutgoingMessage("bench.relay", $"saga-{i % 997}", new Ping(i, padding)))]);
            await transaction.CommitAsync();
        }
        Console.WriteLine("done");

        using var host = BuildHost(postgres, kafka, "relay", withHandler: false);
        var clock = Stopwatch.StartNew();
        await host.StartAsync();
        long left;
        do
        {
            await Task.Delay(20);
            await using var remaining = dataSource.CreateCommand("SELECT count(*) FROM messaging.outbox");
            left = (long)(await remaining.ExecuteScalarAsync())!;
            Progress($"      relaying: {count - left:N0} of {count:N0}");
        }
        while (left > 0);
        clock.Stop();
        Console.WriteLine();
        await host.StopAsync();

        var published = PublishedCount(kafka.BootstrapServers, "bench.relay");
        if (published != count) throw new InvalidOperationException($"The topic holds {published} messages, expected {count}");
        return count / clock.Elapsed.TotalSeconds;
    }

    private static async Task<LatencyResult> HopLatencyAsync(EmbeddedPostgres postgres, EmbeddedKafka kafka, int rate, int seconds, int warmupSeconds, string padding)
    {
        await postgres.CreateDatabaseAsync("hop");
        using var host = BuildHost(postgres, kafka, "hop", withHandler: true);
        await host.StartAsync();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        var outbox = host.Services.GetRequiredService<Outbox>();
        var committed = new ConcurrentDictionary<long, long>();
        var spans = new HopSpans();
        using var listener = spans.Listen();

        // As the services' hot paths write: the rows are handed to the relay after the commit (in
        // memory, as it leads in this process), not announced by a NOTIFY inside the transaction.
        async Task SendAsync(long id)
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            using var wakeUp = outbox.WakeUpAfterCommit(transaction);
            await outbox.EnqueueAsync(transaction, new OutgoingMessage("bench.hop", $"saga-{id % 997}", new Ping(id, padding)));
            await transaction.CommitAsync();
            committed[id] = Stopwatch.GetTimestamp();
            wakeUp.Committed();
        }

        const int Writers = 8;
        async Task<double> PacedAsync(long firstId, int count, string what)
        {
            var start = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                for (long n = w; n < count; n += Writers)
                {
                    var due = start + (long)(n * (double)Stopwatch.Frequency / rate);
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait);
                    await SendAsync(firstId + n);
                    if (w == 0 && n % Math.Max(Writers, rate / 2) < Writers) Progress($"      {what}: {n:N0} of {count:N0} sent");
                }
            })));
            return count / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        // Warm-up, not measured: the consumer joins its group, and the code paths are compiled
        // and tiered up at the rate under test, so the figures are of the steady state.
        Console.WriteLine($"[3/3] warming up at {rate:N0} msg/s for {warmupSeconds} s ...");
        const long WarmupIds = -10_000_000;
        var warmup = rate * warmupSeconds;
        await PacedAsync(WarmupIds, warmup, "warm-up");
        while (Enumerable.Range(0, warmup).Any(n => !PingHandler.Started.ContainsKey(WarmupIds + n))) await Task.Delay(50);
        spans.Clear();
        Console.WriteLine();

        var total = rate * seconds;
        var achieved = await PacedAsync(0, total, "latency run");
        Console.WriteLine();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && Enumerable.Range(0, total).Any(id => !PingHandler.Started.ContainsKey(id))) await Task.Delay(100);
        await host.StopAsync();

        var latencies = Enumerable.Range(0, total)
            .Where(id => PingHandler.Started.ContainsKey(id))
            .Select(id => Stopwatch.GetElapsedTime(committed[id], PingHandler.Started[id]).TotalMilliseconds)
            .Order().ToArray();
        spans.Report();
        return new LatencyResult(latencies.Length, Percentile(latencies, 0.50), Percentile(latencies, 0.90), Percentile(latencies, 0.99), latencies.LastOrDefault(), achieved, total - latencies.Length);
    }

    // The services' wait, librdkafka's default: the embedded broker answers a waiting fetch as soon
    // as its partition gets data (eng/librdkafka-mock-fetch.patch), as a real broker does. Until
    // 2026-12-07 this benchmark waited 5 ms, from before that patch. The environment may set another
    // to compare: Kafka__Consumer__fetch.wait.max.ms=5.
    private static readonly string FetchWaitMaxMs = Environment.GetEnvironmentVariable("Kafka__Consumer__fetch.wait.max.ms") ?? "500";

    private static IHost BuildHost(EmbeddedPostgres postgres, EmbeddedKafka kafka, string database, bool withHandler)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = kafka.BootstrapServers,
            [$"ConnectionStrings:{database}"] = postgres.ConnectionString(database) + ";Maximum Pool Size=50",
            ["Messaging:SessionTimeoutMs"] = "6000",
            ["Kafka:Consumer:fetch.wait.max.ms"] = FetchWaitMaxMs,
        });
        var messaging = builder.AddMessaging($"bench-{database}", database).AddContracts(BenchContracts.Default);
        if (withHandler) messaging.Handle<Ping, PingHandler>("bench.hop");
        return builder.Build();
    }

    private static long PublishedCount(string bootstrap, string topic)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-inspect" }).Build();
        return Enumerable.Range(0, 4).Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value);
    }

    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1))];

    private static void Progress(string line)
    {
        if (!Console.IsOutputRedirected) Console.Write($"\r{line}   ");
    }

    private sealed record LatencyResult(int Count, double P50, double P90, double P99, double Max, double AchievedRate, int Lost);
}
