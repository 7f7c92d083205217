using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.ServiceDefaults;

namespace SagaAspire.Messaging;

/// <summary>
/// Publishes committed outbox rows to Kafka. Among the replicas of a service exactly one relay
/// leads at a time, chosen by a session-level PostgreSQL advisory lock (docs/adr/0002): a single
/// publisher reading rows in id order keeps the order of every key, and a replica that dies
/// releases the lock with its connection so another takes over. Rows are deleted once the broker
/// acknowledged them (idempotent producer, acks=all); a crash in between republishes, and the
/// receivers' inboxes absorb the duplicate.
/// </summary>
/// <param name="sessions">An unpooled data source: the relay's connections keep session state.</param>
internal sealed partial class OutboxRelay(
    NpgsqlDataSource sessions,
    KafkaClientSettings kafka,
    IOptions<MessagingOptions> options,
    RelaySignal signal,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const long LeaderLockKey = 0x5A6A_A5B1_0000_0002;
    private readonly MessagingOptions _options = options.Value;
    private readonly (string Host, int? Port) _server = kafka.FirstServer;
    private long _oldestPendingTicks;
    private int _deletedSinceVacuum;
    private volatile bool _vacuumRefused;

    /// <summary>Age of the oldest row not yet published, as last seen by the leader (zero when drained).</summary>
    public TimeSpan Lag
    {
        get
        {
            var oldest = Interlocked.Read(ref _oldestPendingTicks);
            return oldest == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Max(0, DateTime.UtcNow.Ticks - oldest));
        }
    }

    public bool IsLeader { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.RelayEnabled) return;
        using var lag = new OutboxLagGauge(this);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await LeadWhilePossibleAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or KafkaException or TimeoutException or InvalidOperationException or JsonException)
            {
                IsLeader = false;
                Log.RelayFailed(logger, ex);
                await Task.Delay(_options.RelayStandbyInterval, stoppingToken).ConfigureAwait(false);
            }
        }
        IsLeader = false;
    }

    private IProducer<string, byte[]> BuildProducer()
    {
        var config = kafka.CreateProducerConfig();
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        // A message leaves as soon as it is handed over: at saga rates the relay mostly has a row
        // or two, and waiting 1 ms for company was half of a hop's time. Rows handed over together
        // still share requests (docs/messaging.md, "The relay").
        config.LingerMs ??= 0;
        config.MessageTimeoutMs ??= 30_000;
        config.SocketNagleDisable ??= true; // small produce requests must not wait for delayed ACKs
        // The client's background thread waits this long for delivery reports before it looks for
        // a stop; a report ends the wait at once. Its default of 100 ms woke an idle relay ten
        // times a second; 500 ms (the consumers' idle poll) wakes it twice, and a stop waits at
        // most half a second for it.
        if (config.Get(ConfigPropertyNames.CancellationDelayMaxMs) is null) config.CancellationDelayMaxMs = 500;
        return new ProducerBuilder<string, byte[]>(config).SetLogHandler((_, m) => LogKafka(logger, m)).Build();
    }

    private async Task LeadWhilePossibleAsync(CancellationToken stoppingToken)
    {
        // A session of its own (the data source does not pool): the advisory lock belongs to it.
        var connection = await sessions.OpenConnectionAsync(stoppingToken).ConfigureAwait(false);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection) { Parameters = { new() { Value = LeaderLockKey } } })
        {
            if (await tryLock.ExecuteScalarAsync(stoppingToken).ConfigureAwait(false) is not true)
            {
                await connection.DisposeAsync().ConfigureAwait(false); // a standby holds no connection while it waits
                await Task.Delay(_options.RelayStandbyInterval, stoppingToken).ConfigureAwait(false);
                return;
            }
        }
        await using var owned = connection;
        // A producer per leadership term: one that hit a fatal error is replaced with the term.
        using var producer = BuildProducer();
        using var topics = new ProducerTopics(producer);
        using var term = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // Deleting a published row need not wait for the disk: were the delete lost in a crash,
        // the row would be published again and the receivers' inboxes would absorb it. The
        // keepalives end a dead leader's session (and free its lock) in about a minute, not hours.
        await using (var prepare = new NpgsqlCommand(
            "SET synchronous_commit = off; SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
            connection))
            await prepare.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
        signal.TakeHanded(); // rows handed to an earlier term are in the table, and this term reads it first
        var listening = ListenAsync(term.Token);
        using var vacuumDue = new SemaphoreSlim(0, 1);
        var vacuuming = VacuumWhileLeadingAsync(vacuumDue, term.Token);
        IsLeader = true;
        signal.TakesRows = _options.RelayHandOver;
        signal.LeaderHere = true;
        Log.BecameLeader(logger);
        // Rows come two ways. Writers in this process hand over what they have just committed,
        // and those rows are published as they are. The table is read when that is not enough:
        // first in a term (what earlier terms and crashed writers left), on a NOTIFY (writers in
        // other processes, writers that do not hand over), while a read finds a full batch
        // (a backlog: rows handed meanwhile are in it, so they are dropped and published from
        // the table, in id order), and at least every poll interval. Rows the broker acknowledged
        // are deleted in the round trip of that next read, not one by one: were one published
        // again after a crash, its receivers' inboxes would absorb it.
        var acknowledged = new HashSet<long>(); // published since the last read of the table, which deletes them
        var readTable = true;
        var lastRead = 0L;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (listening.IsCompleted) await listening.ConfigureAwait(false); // its failure ends the term
                var handed = signal.TakeHanded();
                readTable |= signal.TakeReadRequest() || acknowledged.Count >= _options.RelayBatchSize
                    || Stopwatch.GetElapsedTime(lastRead) >= _options.RelayPollInterval;
                List<Row> rows;
                if (readTable)
                {
                    // A handed row is committed, so this read sees it (or, beyond the batch, the next one will).
                    rows = await ReadBatchAsync(connection, acknowledged, stoppingToken).ConfigureAwait(false);
                    VacuumWhenDue(acknowledged.Count, vacuumDue);
                    acknowledged.Clear();
                    lastRead = Stopwatch.GetTimestamp();
                    readTable = rows.Count == _options.RelayBatchSize;
                }
                else
                {
                    // A row read from the table just before its writer handed it over is published already.
                    rows = [.. handed.Where(r => !acknowledged.Contains(r.Id)).OrderBy(r => r.Id)];
                    if (rows.Count > 0) Interlocked.Exchange(ref _oldestPendingTicks, rows[0].CreatedAt.UtcTicks);
                }
                if (rows.Count > 0)
                {
                    var published = await PublishAsync(connection, topics, rows, stoppingToken).ConfigureAwait(false);
                    acknowledged.UnionWith(published);
                    readTable |= published.Count < rows.Count; // a row was parked: those behind it are read again
                }
                if (!readTable)
                {
                    Interlocked.Exchange(ref _oldestPendingTicks, 0); // what was waiting is published
                    var untilPoll = _options.RelayPollInterval - Stopwatch.GetElapsedTime(lastRead);
                    if (untilPoll > TimeSpan.Zero) await signal.WaitAsync(untilPoll, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            IsLeader = false;
            signal.LeaderHere = false;
            await term.CancelAsync().ConfigureAwait(false);
            producer.Flush(TimeSpan.FromSeconds(5));
            // The lock and the settings end with the session, when the connection closes.
            if (connection.State == System.Data.ConnectionState.Open && acknowledged.Count > 0)
                await DeleteAsync(connection, acknowledged, CancellationToken.None).ConfigureAwait(false);
            try
            {
                await listening.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // the term is over either way (its failure, if that ended it, is being reported)
            }
            await vacuuming.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// While the term lasts, turns the NOTIFYs of writers in other processes into wake-ups, on a
    /// connection of its own (the leader's connection is busy reading and deleting). Its failure
    /// (the database went away) wakes the relay, whose next read fails too and ends the term.
    /// </summary>
    private async Task ListenAsync(CancellationToken term)
    {
        try
        {
            await using var connection = await sessions.OpenConnectionAsync(term).ConfigureAwait(false);
            connection.Notification += (_, _) => signal.RequestRead();
            await using (var listen = new NpgsqlCommand($"LISTEN {Outbox.Channel}", connection))
                await listen.ExecuteNonQueryAsync(term).ConfigureAwait(false);
            // Rows committed before LISTEN took effect sent their NOTIFY to nobody.
            signal.RequestRead();
            // One wait at a time until the term ends, cancelled then: Npgsql leaves the connection
            // open and usable after a cancelled wait, and the LISTEN ends with the session. A wait
            // with a timeout instead throws and catches five exceptions inside Npgsql each time it
            // runs out: waits of a second cost every idle service five exceptions a second.
            while (!term.IsCancellationRequested)
                await connection.WaitAsync(term).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested)
        {
            // the term ended (while the connection opened, or while it waited)
        }
        catch
        {
            signal.RequestRead();
            throw;
        }
    }

    /// <summary>Reads, publishes and deletes one batch in id order; returns how many rows it removed from the outbox.</summary>
    internal async Task<int> PublishBatchAsync(NpgsqlConnection connection, IProducer<string, byte[]> producer, CancellationToken cancellationToken)
    {
        var rows = await ReadBatchAsync(connection, [], cancellationToken).ConfigureAwait(false);
        if (rows.Count == 0) return 0;
        using var topics = new ProducerTopics(producer);
        var acknowledged = await PublishAsync(connection, topics, rows, cancellationToken).ConfigureAwait(false);
        if (acknowledged.Count > 0) await DeleteAsync(connection, acknowledged, cancellationToken).ConfigureAwait(false);
        return acknowledged.Count;
    }

    /// <summary>
    /// Publishes <paramref name="rows"/> in id order and returns the ids the broker acknowledged,
    /// for the caller to delete. A row the broker refuses for good is parked (and counts as
    /// handled); any other failure deletes the acknowledged prefix and throws.
    /// </summary>
    /// <param name="topics">The producer, with the topics it has been told of.</param>
    private async Task<IReadOnlyList<long>> PublishAsync(NpgsqlConnection connection, ProducerTopics topics, List<Row> rows, CancellationToken cancellationToken)
    {
        var producer = topics.Producer;
        topics.Learn(rows.Select(r => r.Topic));
        // Produce in id order, stopping at the first row the producer refuses outright, so that
        // no later message of its key reaches the broker before it.
        var deliveries = new List<Task<DeliveryReport<string, byte[]>>>(rows.Count);
        foreach (var row in rows)
        {
            var delivery = Produce(producer, row);
            deliveries.Add(delivery);
            if (delivery.IsFaulted) break;
        }
        await Task.WhenAll(deliveries.Select(d => d.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);

        // Only the prefix that was acknowledged is done: a failed row and everything after it is
        // published again, in order, rather than letting a later message of a key overtake it.
        var delivered = 0;
        while (delivered < deliveries.Count && deliveries[delivered].IsCompletedSuccessfully && deliveries[delivered].Result.Error.Code == ErrorCode.NoError)
            delivered++;
        MessagingTelemetry.Sent.Add(delivered);
        var acknowledged = rows.Take(delivered).Select(r => r.Id).ToList();
        if (delivered == rows.Count) return acknowledged;

        if (acknowledged.Count > 0) await DeleteAsync(connection, acknowledged, cancellationToken).ConfigureAwait(false);
        var failed = rows[delivered];
        var failure = deliveries[delivered];
        var error = failure.IsFaulted
            ? (failure.Exception!.GetBaseException() as KafkaException)?.Error ?? new Error(ErrorCode.Local_Fail, failure.Exception!.GetBaseException().Message)
            : failure.Result.Error;
        if (IsPermanent(error))
        {
            // Retrying a row the broker will never take would hold up the whole outbox.
            await ParkAsync(connection, failed.Id, error, cancellationToken).ConfigureAwait(false);
            Log.Parked(logger, failed.Id, failed.Topic, error.Reason);
            return [];
        }
        throw new KafkaException(new Error(error.Code, $"Publishing outbox row {failed.Id} to {failed.Topic} failed: {error.Reason}", error.IsFatal));
    }

    /// <summary>Errors no retry can cure: the message or topic itself is unacceptable to the broker.</summary>
    private static bool IsPermanent(Error error) => error.Code is
        ErrorCode.MsgSizeTooLarge or ErrorCode.InvalidMsgSize or ErrorCode.InvalidMsg
        or ErrorCode.TopicException or ErrorCode.TopicAuthorizationFailed or ErrorCode.Local_InvalidArg or ErrorCode.InvalidRecord;

    private static async Task ParkAsync(NpgsqlConnection connection, long id, Error error, CancellationToken cancellationToken)
    {
        await using var park = new NpgsqlCommand("""
            WITH moved AS (DELETE FROM messaging.outbox WHERE id = $1 RETURNING *)
            INSERT INTO messaging.outbox_parked SELECT moved.*, $2, now() FROM moved
            """, connection);
        park.Parameters.Add(new() { Value = id });
        park.Parameters.Add(new() { Value = $"{error.Code}: {error.Reason}" });
        await park.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<DeliveryReport<string, byte[]>> Produce(IProducer<string, byte[]> producer, Row row)
    {
        var completion = new TaskCompletionSource<DeliveryReport<string, byte[]>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = Stopwatch.GetTimestamp();
        var previous = Activity.Current;
        var activity = MessagingTelemetry.StartSend(row.Topic, row.TraceParent, row.TraceState, _server);
        Activity.Current = previous; // the relay loop itself stays outside every saga's trace
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingTelemetry.MessageId, row.MessageId.ToString());
            activity.SetTag(MessagingTelemetry.MessageKey, row.Key);
            activity.SetTag(MessagingTelemetry.BodySize, row.Payload.Length);
            activity.SetTag(MessagingTelemetry.OutboxWait, (DateTimeOffset.UtcNow - row.CreatedAt).TotalMilliseconds);
            if (row.SagaId is not null) activity.SetTag(MessagingTelemetry.SagaId, row.SagaId);
            if (row.MessageType is not null) activity.SetTag(MessagingTelemetry.MessageType, row.MessageType);
        }

        try
        {
            var message = new Message<string, byte[]> { Key = row.Key, Value = row.Payload, Headers = BuildHeaders(row, activity) };
            producer.Produce(row.Topic, message, report =>
            {
                RecordPublish(row.Topic, started, report.Error.IsError ? report.Error.Code.ToString() : null);
                if (activity is not null)
                {
                    activity.SetTag(MessagingTelemetry.PartitionId, report.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    activity.SetTag(MessagingTelemetry.Offset, report.Offset.Value);
                    if (report.Error.IsError) activity.SetStatus(ActivityStatusCode.Error, report.Error.Reason);
                    activity.Stop();
                }
                completion.TrySetResult(report);
            });
        }
        catch (Exception ex) when (ex is ProduceException<string, byte[]> or KafkaException or ArgumentException or JsonException)
        {
            RecordPublish(row.Topic, started, ex.GetType().Name);
            activity.RecordError(ex);
            activity?.Stop();
            completion.TrySetException(ex);
        }
        return completion.Task;
    }

    /// <summary>One message handed to the producer: its time to the acknowledgement (or refusal), and the count.</summary>
    private static void RecordPublish(string topic, long started, string? error)
    {
        var tags = new TagList
        {
            { MessagingTelemetry.System, "kafka" },
            { MessagingTelemetry.OperationName, "send" },
            { MessagingTelemetry.Destination, topic },
        };
        if (error is not null) tags.Add(MessagingTelemetry.ErrorType, error);
        MessagingTelemetry.PublishDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        MessagingTelemetry.PublishMessages.Add(1, tags);
    }

    private static Headers BuildHeaders(Row row, Activity? publish)
    {
        var headers = new Headers();
        if (row.Headers is not null)
        {
            foreach (var (name, value) in JsonSerializer.Deserialize(row.Headers, OutboxJson.Default.DictionaryStringString)!)
                headers.Add(name, Encoding.UTF8.GetBytes(value));
        }
        if (row.MessageType is not null)
        {
            headers.SetString(MessageHeaders.MessageId, row.MessageId.ToString());
            headers.SetString(MessageHeaders.MessageType, row.MessageType);
            headers.SetString(MessageHeaders.ContentType, MessageHeaders.JsonContentType);
            headers.SetString(MessageHeaders.SagaId, row.SagaId);
            headers.SetString(MessageHeaders.CausationId, row.CausationId?.ToString());
        }
        // The consumer's span becomes the child of this publish span; without one (tracing off)
        // the context stored with the row travels on unchanged.
        headers.SetString(MessageHeaders.TraceParent, publish?.Id ?? row.TraceParent);
        headers.SetString(MessageHeaders.TraceState, publish is null ? row.TraceState : publish.TraceStateString);
        return headers;
    }

    /// <summary>
    /// Asks for a vacuum of the outbox once the relay has deleted <see cref="MessagingOptions.RelayVacuumAfter"/>
    /// rows since the last time. Every row of a queue table dies a moment after it is written, and
    /// until a vacuum removes them the relay's ordered read steps over every dead row's index
    /// entry and its delete visits their pages: with autovacuum's default of one visit a minute
    /// per database, tens of thousands of them under load.
    /// </summary>
    private void VacuumWhenDue(int deleted, SemaphoreSlim due)
    {
        _deletedSinceVacuum += deleted;
        if (_options.RelayVacuumAfter == 0 || _vacuumRefused || _deletedSinceVacuum < _options.RelayVacuumAfter) return;
        _deletedSinceVacuum = 0;
        if (due.CurrentCount == 0) due.Release(); // one asked for behind the one running, no more
    }

    /// <summary>
    /// While the term lasts, vacuums the outbox each time <see cref="VacuumWhenDue"/> asks, on a
    /// connection of its own (outside any transaction, as VACUUM must run), so that publishing
    /// goes on meanwhile: under load a vacuum of even this small a table takes tens of
    /// milliseconds, and it waits for any other vacuum of the table (autovacuum's, slowed by its
    /// cost delay, is cancelled for it only after deadlock_timeout); run between two batches on
    /// the relay's connection it held up every message the service sent for that long. A user that may not vacuum the table (not its
    /// owner) leaves it to autovacuum, and the relay says so once. It leaves the empty pages at
    /// the table's end (TRUNCATE false, as the table's own setting says for autovacuum): cutting
    /// them off takes a lock that holds up every writer's insert, and the queue fills them again a
    /// moment later. A failed vacuum (the database went away) is not retried; the next one due
    /// opens a new connection.
    /// </summary>
    private async Task VacuumWhileLeadingAsync(SemaphoreSlim due, CancellationToken term)
    {
        NpgsqlConnection? connection = null;
        try
        {
            while (!_vacuumRefused)
            {
                await due.WaitAsync(term).ConfigureAwait(false);
                try
                {
                    connection ??= await sessions.OpenConnectionAsync(term).ConfigureAwait(false);
                    await using var vacuum = new NpgsqlCommand("VACUUM (TRUNCATE false) messaging.outbox", connection);
                    await vacuum.ExecuteNonQueryAsync(term).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
                {
                    _vacuumRefused = true;
                    Log.VacuumRefused(logger, ex.MessageText);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !term.IsCancellationRequested)
                {
                    if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested)
        {
            // the term ended (while waiting for a vacuum to be due, or during one)
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private const string DeletePublished = "DELETE FROM messaging.outbox WHERE id = ANY($1)";

    private static async Task DeleteAsync(NpgsqlConnection connection, IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        await using var delete = new NpgsqlCommand(DeletePublished, connection) { Parameters = { new() { Value = ids.ToArray() } } };
        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the rows published last time and reads the next batch, in one round trip and one
    /// transaction, and notes the age of the oldest row still waiting.
    /// </summary>
    private async Task<List<Row>> ReadBatchAsync(NpgsqlConnection connection, IReadOnlyCollection<long> published, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        if (published.Count > 0)
            batch.BatchCommands.Add(new NpgsqlBatchCommand(DeletePublished) { Parameters = { new() { Value = published.ToArray() } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            SELECT id, message_id, topic, message_key, message_type, saga_id, causation_id, traceparent, tracestate, headers::text, payload, created_at
            FROM messaging.outbox ORDER BY id LIMIT $1
            """) { Parameters = { new() { Value = _options.RelayBatchSize } } });
        var rows = new List<Row>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new Row(
                reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetGuid(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                (byte[])reader.GetValue(10),
                reader.GetFieldValue<DateTimeOffset>(11)));
        }
        Interlocked.Exchange(ref _oldestPendingTicks, rows.Count == 0 ? 0 : rows[0].CreatedAt.UtcTicks);
        return rows;
    }

    /// <summary>An outbox row as the relay publishes it: read from the table, or handed over by a writer in this process after its commit.</summary>
    internal sealed record Row(
        long Id, Guid MessageId, string Topic, string Key, string? MessageType, string? SagaId, Guid? CausationId,
        string? TraceParent, string? TraceState, string? Headers, byte[] Payload, DateTimeOffset CreatedAt);

    private static void LogKafka(ILogger logger, LogMessage message)
    {
        if (message.Level <= SyslogLevel.Warning) Log.KafkaClient(logger, message.Name, message.Message);
    }

    /// <summary>Reports the relay's lag as an observable gauge for as long as the relay runs.</summary>
    private sealed class OutboxLagGauge : IDisposable
    {
        private readonly System.Diagnostics.Metrics.Meter _meter = new(MessagingTelemetry.Name);

        public OutboxLagGauge(OutboxRelay relay) =>
            _meter.CreateObservableGauge("sagaaspire.outbox.lag", () => relay.IsLeader ? relay.Lag.TotalSeconds : 0d, "s",
                "Age of the oldest outbox row not yet published (reported by the leading relay).");

        public void Dispose() => _meter.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Outbox relay is now the leader for this database")]
        public static partial void BecameLeader(ILogger logger);

        [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Outbox relay failed; retrying")]
        public static partial void RelayFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Kafka producer {Client}: {Message}")]
        public static partial void KafkaClient(ILogger logger, string client, string message);

        [LoggerMessage(EventId = 1203, Level = LogLevel.Error, Message = "Outbox row {Id} for {Topic} can never be published ({Reason}); it was moved to messaging.outbox_parked")]
        public static partial void Parked(ILogger logger, long id, string topic, string reason);

        [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "The outbox relay may not vacuum messaging.outbox ({Reason}); autovacuum alone keeps it small, so under load its reads slow down between autovacuum's visits. Make the service's database user the table's owner, or set Messaging:RelayVacuumAfter to 0 to silence this")]
        public static partial void VacuumRefused(ILogger logger, string reason);
    }
}
