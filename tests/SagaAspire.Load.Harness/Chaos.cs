using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using SagaAspire.Contracts;
using Npgsql;
using SagaAspire.Messaging;

namespace SagaAspire.Load;

/// <summary>One fault as it happened: what, to whom, when, and how long until the target was back.</summary>
public sealed record FaultRecord(string Kind, string Target, DateTime At, double DownSeconds);

/// <summary>
/// Breaks the system while the load runs, in the ways a real deployment breaks:
/// <list type="bullet">
/// <item><b>kill</b>: SIGKILL to a random service process (no shutdown, no offset commit, no
/// consumer-group leave), restarted after <see cref="LoadSettings.OutageLength"/>;</item>
/// <item><b>broker</b>: the embedded broker refuses connections for the outage length, then takes
/// them again. Its log survives, as a real broker's does across a restart (acks=all): this
/// models an unreachable or restarting broker, <i>not</i> the loss of messages (the mock
/// cluster cannot be restarted on the same port; a fresh one would lose every message and offset);</item>
/// <item><b>postgres</b>: a fast shutdown of the PostgreSQL server (every session ended, in-flight
/// transactions rolled back), started again on the same data and port;</item>
/// <item><b>loss</b>: every message in flight to and from one service is lost, as when a broker
/// loses data that was not yet replicated: the service's processes are killed, its consumer
/// group's offsets moved to the end of its partitions (it never sees what it had not processed)
/// and the messages in its outbox deleted (those not yet published never reach the broker; the
/// relay deletes published rows only with its next read of the table, so some may have gone out),
/// then it is restarted. Only timeouts and resends can finish the sagas it was part of;</item>
/// <item><b>duplicate</b>: a Kafka client re-produces every message of the saga's topics once, to
/// the same partition with the same key, body and headers (plus a marker so it is not copied
/// again): every message is delivered twice;</item>
/// <item><b>poison</b>: malformed messages (a body that is not JSON, no message id, an unknown
/// type) on every topic of the saga, marked so the dead-letter topics can be checked against
/// exactly what was injected.</item>
/// </list>
/// Kill, broker, postgres and loss take turns, one every <see cref="LoadSettings.ChaosInterval"/>.
/// </summary>
public sealed class ChaosAgent : IAsyncDisposable
{
    /// <summary>Header of a message the duplicator re-produced.</summary>
    public const string DuplicateHeader = "chaos-duplicate";

    /// <summary>Header of an injected malformed message, with its number.</summary>
    public const string PoisonHeader = "chaos-poison";

    private readonly SystemUnderTest _system;
    private readonly LoadSettings _settings;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly ConcurrentQueue<FaultRecord> _faults = new();
    private readonly Random _random;
    private long _duplicated;

    public ChaosAgent(SystemUnderTest system, LoadSettings settings, Action<string> log)
    {
        _system = system;
        _settings = settings;
        _log = log;
        _random = new Random(settings.Seed);
    }

    public IReadOnlyCollection<FaultRecord> Faults => _faults;

    /// <summary>The marker of every malformed message the broker acknowledged, by topic.</summary>
    public ConcurrentDictionary<string, ConcurrentBag<string>> Poisoned { get; } = new();

    public long Duplicated => Interlocked.Read(ref _duplicated);

    /// <summary>Where each injected malformed message landed, by its marker.</summary>
    private readonly ConcurrentDictionary<string, TopicPartitionOffset> _poisonAt = new();

    /// <summary>The offset ranges [from, to) a loss fault made a consumer group skip.</summary>
    private readonly ConcurrentQueue<(TopicPartition Partition, long From, long To)> _skipped = new();

    /// <summary>Messages the loss faults took away: skipped by a consumer group, or deleted from an outbox (at most: a deleted row may have been published already).</summary>
    public long LostMessages => Interlocked.Read(ref _lost);

    private long _lost;

    /// <summary>
    /// The injected malformed messages that lie in a range a loss fault skipped: their consumer may
    /// never have seen them (or dead-lettered them before the fault), so either outcome is right.
    /// </summary>
    public IReadOnlySet<string> PoisonMaybeLost() =>
        _poisonAt.Where(p => _skipped.Any(s => s.Partition == p.Value.TopicPartition && p.Value.Offset.Value >= s.From && p.Value.Offset.Value < s.To))
            .Select(p => p.Key).ToHashSet();

    public void Start()
    {
        var kinds = _settings.Chaos;
        var hosted = _system.Hosted;
        var faults = new List<Func<CancellationToken, Task>>();
        if (kinds.HasFlag(ChaosKinds.Kill)) faults.Add(KillAsync);
        if (kinds.HasFlag(ChaosKinds.Broker)) faults.Add(BrokerOutageAsync);
        if (kinds.HasFlag(ChaosKinds.Postgres)) faults.Add(PostgresRestartAsync);
        if (kinds.HasFlag(ChaosKinds.Loss)) faults.Add(LossAsync);
        if (faults.Count > 0 && hosted is null)
            throw new InvalidOperationException("kill, broker, postgres and loss faults need a system the harness started itself (not --target).");
        if ((kinds.HasFlag(ChaosKinds.Duplicate) || kinds.HasFlag(ChaosKinds.Poison)) && _system.KafkaBootstrapServers is null)
            throw new InvalidOperationException("duplicate and poison need Kafka access (--kafka).");

        if (faults.Count > 0) _tasks.Add(Task.Run(() => FaultsAsync(faults, _stop.Token)));
        if (kinds.HasFlag(ChaosKinds.Duplicate))
        {
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _tasks.Add(Task.Factory.StartNew(() => Duplicate(ready, _stop.Token), TaskCreationOptions.LongRunning));
            ready.Task.Wait(TimeSpan.FromSeconds(30));
        }
        if (kinds.HasFlag(ChaosKinds.Poison)) _tasks.Add(Task.Run(() => PoisonAsync(_stop.Token)));
    }

    /// <summary>Stops injecting and puts everything back: every process running and healthy, broker up, database up.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
        if (_system.Hosted is not { } hosted) return;
        if (_settings.Chaos.HasFlag(ChaosKinds.Broker)) await hosted.BrokerUpAsync();
        if (!hosted.PostgresRunning) await hosted.StartPostgresAsync(TimeSpan.FromSeconds(120));
        foreach (var instance in hosted.AllInstances().Where(i => !i.Running)) await hosted.StartAsync(instance, TimeSpan.FromSeconds(120));
    }

    private async Task FaultsAsync(List<Func<CancellationToken, Task>> faults, CancellationToken cancellationToken)
    {
        try
        {
            for (var turn = 0; turn < (_settings.MaxFaults ?? int.MaxValue); turn++)
            {
                await Task.Delay(_settings.ChaosInterval, cancellationToken);
                await faults[turn % faults.Count](cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the load is over
        }
        catch (Exception ex)
        {
            // A fault that could not be carried out (a restart that timed out, say) ends the faults
            // and fails the run when the agent stops, rather than pass unseen. Said now, and what
            // it left down is started again now: otherwise the load would wait for it to its end.
            _log($"chaos: a fault failed, no more faults (the run will fail): {ex.GetType().Name}: {ex.Message}");
            await RestoreAsync();
            throw;
        }
    }

    /// <summary>What a failed fault may have left down (the victim of a kill or loss), started again; failures only logged.</summary>
    private async Task RestoreAsync()
    {
        if (_system.Hosted is not { } hosted) return;
        try
        {
            if (_settings.Chaos.HasFlag(ChaosKinds.Broker)) await hosted.BrokerUpAsync();
            if (!hosted.PostgresRunning) await hosted.StartPostgresAsync(TimeSpan.FromSeconds(120));
            await StartAgainAsync(hosted, [.. hosted.AllInstances().Where(i => !i.Running)]);
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or OperationCanceledException or Npgsql.NpgsqlException)
        {
            _log($"chaos: could not restore the system after the failed fault: {ex.Message}");
        }
    }

    private async Task KillAsync(CancellationToken cancellationToken)
    {
        var hosted = _system.Hosted!;
        var instances = hosted.AllInstances();
        var victim = instances[_random.Next(instances.Count)];
        var at = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        _log($"chaos: kill -9 {victim.Id} (pid {victim.ProcessId})");
        await hosted.KillAsync(victim, CancellationToken.None);
        await Task.Delay(_settings.OutageLength, CancellationToken.None);
        await StartAgainAsync(hosted, [victim]);
        _faults.Enqueue(new FaultRecord("kill", victim.Id, at, clock.Elapsed.TotalSeconds));
        _log($"chaos: {victim.Id} healthy again after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Starts killed instances again through Aspire; one that does not come back is logged (the invariants will tell).</summary>
    private async Task StartAgainAsync(AppHostSystem hosted, IReadOnlyList<ServiceInstance> instances)
    {
        foreach (var instance in instances)
        {
            try
            {
                await hosted.StartAsync(instance, TimeSpan.FromSeconds(120));
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
            {
                _log($"chaos: {instance.Id} did not come back: {ex.Message}");
            }
        }
    }

    private async Task BrokerOutageAsync(CancellationToken cancellationToken)
    {
        var hosted = _system.Hosted!;
        var at = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        _log("chaos: broker down");
        await hosted.BrokerDownAsync();
        try
        {
            await Task.Delay(_settings.OutageLength, CancellationToken.None);
        }
        finally
        {
            await hosted.BrokerUpAsync();
        }
        _faults.Enqueue(new FaultRecord("broker", "embedded broker", at, clock.Elapsed.TotalSeconds));
        _log("chaos: broker up");
    }

    private async Task PostgresRestartAsync(CancellationToken cancellationToken)
    {
        var hosted = _system.Hosted!;
        var at = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        _log("chaos: PostgreSQL stops");
        await hosted.StopPostgresAsync(TimeSpan.FromSeconds(120));
        await Task.Delay(_settings.OutageLength, CancellationToken.None);
        await hosted.StartPostgresAsync(TimeSpan.FromSeconds(120));
        _faults.Enqueue(new FaultRecord("postgres", "PostgreSQL server", at, clock.Elapsed.TotalSeconds));
        _log($"chaos: PostgreSQL up again after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private async Task LossAsync(CancellationToken cancellationToken)
    {
        var hosted = _system.Hosted!;
        var service = AppHostSystem.Services[_random.Next(AppHostSystem.Services.Length)];
        var victims = hosted.Instances(service.Name);
        var at = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        _log($"chaos: loss: kill -9 {string.Join(", ", victims.Select(v => v.Id))}; every message in flight to and from {service.Name} is lost");
        foreach (var victim in victims) await hosted.KillAsync(victim, CancellationToken.None);
        // What the others send it meanwhile is in flight too.
        await Task.Delay(_settings.OutageLength, CancellationToken.None);

        var skipped = await SkipUnprocessedAsync(service.Name, CancellationToken.None);
        await using (var connection = new NpgsqlConnection(_system.Databases[service.Database]))
        {
            await connection.OpenAsync(CancellationToken.None);
            await using var delete = new NpgsqlCommand("DELETE FROM messaging.outbox WHERE topic NOT LIKE '%.dlq'", connection);
            var deleted = await delete.ExecuteNonQueryAsync(CancellationToken.None);
            Interlocked.Add(ref _lost, skipped + deleted);
            _log($"chaos: loss: {service.Name} skips {skipped} unprocessed messages; {deleted} rows deleted from its outbox (not yet published, or published and not yet deleted by its relay)");
        }

        await StartAgainAsync(hosted, victims);
        _faults.Enqueue(new FaultRecord("loss", service.Name, at, clock.Elapsed.TotalSeconds));
        _log($"chaos: {service.Name} healthy again after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>The topics each service's consumer group reads (its handlers' subscriptions).</summary>
    private static readonly Dictionary<string, string[]> ConsumedBy = new()
    {
        ["order"] = [Topics.OrchestratorEvents],
        ["orchestrator"] = [Topics.Orders, Topics.InventoryEvents, Topics.PaymentEvents, Topics.DeliveryEvents],
        ["inventory"] = [Topics.InventoryCommands],
        ["payment"] = [Topics.PaymentCommands],
        ["delivery"] = [Topics.DeliveryCommands],
    };

    /// <summary>
    /// Moves the committed offsets of <paramref name="group"/> to the end of every partition of
    /// the topics it consumes; returns how many messages it will never see (counted from the last
    /// committed offset: the few it had processed since are counted too). Brokers take offsets
    /// only from a member of the group, so the harness joins it, which takes as long as the group
    /// needs to give up its killed members (their session timeout), then leaves it.
    /// </summary>
    private async Task<long> SkipUnprocessedAsync(string group, CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = _system.KafkaBootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        var partitions = KafkaTopics.Partitions(_system.KafkaBootstrapServers!, ConsumedBy[group]);
        consumer.Subscribe(ConsumedBy[group]);
        var joining = Stopwatch.StartNew();
        while (consumer.Assignment.Count < partitions.Count)
        {
            if (joining.Elapsed > TimeSpan.FromSeconds(90))
                throw new TimeoutException($"The harness could not join consumer group {group} to move its offsets.");
            consumer.Consume(TimeSpan.FromMilliseconds(100)); // joins; what it reads is not processed and not committed
            await Task.Yield();
        }

        var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(20));
        var moves = new List<TopicPartitionOffset>();
        var skipped = 0L;
        foreach (var position in committed)
        {
            // Without a committed offset the group would start from the beginning: skip it all.
            var marks = consumer.QueryWatermarkOffsets(position.TopicPartition, TimeSpan.FromSeconds(20));
            var from = position.Offset.IsSpecial ? marks.Low.Value : position.Offset.Value;
            if (marks.High.Value <= from) continue;
            moves.Add(new TopicPartitionOffset(position.TopicPartition, marks.High));
            _skipped.Enqueue((position.TopicPartition, from, marks.High.Value));
            skipped += marks.High.Value - from;
        }
        if (moves.Count > 0) consumer.Commit(moves);
        consumer.Close(); // leaves the group, so the restarted service need not wait for this member
        return skipped;
    }

    private void Duplicate(TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        var bootstrap = _system.KafkaBootstrapServers;
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            LingerMs = 2,
            SocketNagleDisable = true,
        }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "sagaaspire-load-duplicator", // never joined: partitions are assigned
            EnableAutoCommit = false, // fetch.wait.max.ms stays 500 ms, as the outcome reader's does
            SocketNagleDisable = true,
        }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        try
        {
            consumer.Assign(KafkaTopics.Partitions(bootstrap!, Topics.All).Select(p => new TopicPartitionOffset(p, Offset.End)));
            ready.TrySetResult();
            while (!cancellationToken.IsCancellationRequested)
            {
                var result = consumer.Consume(100);
                if (result?.Message is not { } message) continue;
                if (message.Headers is { } headers && (headers.TryGetLastBytes(DuplicateHeader, out _) || headers.TryGetLastBytes(PoisonHeader, out _))) continue;
                var copy = new Headers();
                foreach (var header in message.Headers ?? []) copy.Add(header.Key, header.GetValueBytes());
                copy.Add(DuplicateHeader, "1"u8.ToArray());
                producer.Produce(result.TopicPartition, new Message<byte[], byte[]> { Key = message.Key, Value = message.Value, Headers = copy },
                    report => { if (report.Error.Code == ErrorCode.NoError) Interlocked.Increment(ref _duplicated); });
            }
            producer.Flush(TimeSpan.FromSeconds(30));
        }
        catch (KafkaException ex)
        {
            ready.TrySetException(ex);
            _log($"chaos: the duplicator stopped: {ex.Message}");
        }
        finally
        {
            consumer.Close();
        }
    }

    /// <summary>A valid message type for each topic, so that only the injected flaw makes the message poison.</summary>
    private static readonly Dictionary<string, string> TypeOnTopic = new()
    {
        [Topics.Orders] = "order.placed.v1",
        [Topics.InventoryCommands] = "inventory.reserve.v1",
        [Topics.InventoryEvents] = "inventory.reserved.v1",
        [Topics.PaymentCommands] = "payment.charge.v1",
        [Topics.PaymentEvents] = "payment.charged.v1",
        [Topics.DeliveryCommands] = "delivery.schedule.v1",
        [Topics.DeliveryEvents] = "delivery.scheduled.v1",
        [Topics.OrchestratorEvents] = "order.approved.v1",
    };

    private async Task PoisonAsync(CancellationToken cancellationToken)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = _system.KafkaBootstrapServers,
            Acks = Acks.All,
            MessageTimeoutMs = 120_000,
        }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        var period = TimeSpan.FromSeconds(1 / _settings.PoisonPerSecond);
        var deliveries = new List<Task>();
        try
        {
            for (var number = 0; ; number++)
            {
                await Task.Delay(period, cancellationToken);
                var topic = Topics.All[number % Topics.All.Length];
                var marker = $"{_settings.RunId}-poison-{number}";
                var headers = new Headers();
                var body = "{}"u8.ToArray();
                switch (number / Topics.All.Length % 3)
                {
                    case 0: // a body that is not JSON
                        headers.SetString(MessageHeaders.MessageId, Guid.NewGuid().ToString());
                        headers.SetString(MessageHeaders.MessageType, TypeOnTopic[topic]);
                        body = "{ this is not json"u8.ToArray();
                        break;
                    case 1: // no message id
                        headers.SetString(MessageHeaders.MessageType, TypeOnTopic[topic]);
                        break;
                    default: // a type nobody knows
                        headers.SetString(MessageHeaders.MessageId, Guid.NewGuid().ToString());
                        headers.SetString(MessageHeaders.MessageType, "chaos.unknown.v1");
                        break;
                }
                headers.SetString(MessageHeaders.ContentType, MessageHeaders.JsonContentType);
                headers.Add(PoisonHeader, Encoding.UTF8.GetBytes(marker));
                deliveries.Add(ProduceAsync(producer, topic, marker, new Message<string, byte[]> { Key = Guid.NewGuid().ToString(), Value = body, Headers = headers }));
            }
        }
        catch (OperationCanceledException)
        {
        }
        producer.Flush(TimeSpan.FromSeconds(120));
        await Task.WhenAll(deliveries);
    }

    private async Task ProduceAsync(IProducer<string, byte[]> producer, string topic, string marker, Message<string, byte[]> message)
    {
        try
        {
            var delivered = await producer.ProduceAsync(topic, message);
            _poisonAt[marker] = delivered.TopicPartitionOffset;
            Poisoned.GetOrAdd(topic, _ => []).Add(marker);
        }
        catch (ProduceException<string, byte[]> ex)
        {
            _log($"chaos: a poison message was not delivered ({ex.Error.Reason}); it is not counted");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
        _stop.Dispose();
    }
}

/// <summary>Small Kafka look-ups the harness needs.</summary>
public static class KafkaTopics
{
    public static List<TopicPartition> Partitions(string bootstrapServers, IEnumerable<string> topics)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).SetLogHandler((_, _) => { }).Build();
        var partitions = new List<TopicPartition>();
        foreach (var topic in topics)
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(20));
            partitions.AddRange(metadata.Topics.Single().Partitions.Select(p => new TopicPartition(topic, p.PartitionId)));
        }
        return partitions;
    }
}
