using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.ServiceDefaults;

namespace SagaAspire.Messaging;

/// <summary>
/// The service's Kafka consumer. Each assigned partition gets a worker that processes its messages
/// one at a time, in order, while partitions do not wait for one another. For every message: a
/// process span continuing the producer's trace, then a transaction (shared with the messages
/// waiting beside it, see <see cref="CommitGroupsAsync"/>) that records (consumer, message id) in
/// the inbox, runs the handler and writes the handler's outgoing messages to the outbox; the Kafka
/// offset is stored only after that commit. The handler's outgoing messages are recorded with its
/// inbox row: a redelivery finds the row, does not run the handler again, and only puts those
/// messages into the outbox once more (see <see cref="InboxReplies"/>).
/// </summary>
internal sealed partial class InboxConsumer(
    NpgsqlDataSource dataSource,
    KafkaClientSettings kafka,
    IOptions<MessagingOptions> options,
    MessageHandlers handlers,
    MessageTypes types,
    Outbox outbox,
    IServiceScopeFactory scopes,
    ILogger<InboxConsumer> logger) : BackgroundService
{
    private readonly MessagingOptions _options = options.Value;
    // SET takes no parameters; the value is a whole number of milliseconds from validated settings.
    // A statement that returns no rows, so a handler's first read that follows it finds its own rows first.
    private readonly string _shortLockWait = $"SET LOCAL lock_timeout = {((int)Math.Ceiling(options.Value.SharedLockTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture)}";
    private readonly (string Host, int? Port) _server = kafka.FirstServer;
    private readonly ConcurrentDictionary<TopicPartition, PartitionWorker> _workers = new();
    private readonly ConcurrentDictionary<TopicPartition, long> _lag = new();
    private readonly Channel<GroupedRun> _grouped = Channel.CreateUnbounded<GroupedRun>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (handlers.Topics.Count == 0) return;
        using var meter = new System.Diagnostics.Metrics.Meter(MessagingTelemetry.Name);
        meter.CreateObservableGauge("sagaaspire.messaging.consumer.lag", ReportLag, "{message}",
            "Messages in a partition not yet processed by this consumer group: the partition's end minus the next offset to process.");
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var cleanup = CleanInboxPeriodicallyAsync(either.Token);
        var commit = CommitGroupsAsync(either.Token);
        var consume = Task.Factory.StartNew(() => ConsumeLoop(either.Token), either.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // Should the consumer ever die, the service must not look healthy without it: the
        // failure propagates and stops the host, whose supervisor restarts it.
        var first = await Task.WhenAny(cleanup, commit, consume).ConfigureAwait(false);
        await either.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(cleanup, commit, consume).ConfigureAwait(false);
        await first.ConfigureAwait(false);
    }

    private void ConsumeLoop(CancellationToken stoppingToken)
    {
        var config = kafka.CreateConsumerConfig(_options.ConsumerGroup);
        config.EnableAutoCommit = true;           // commits what we store, every interval and on revoke
        config.AutoCommitIntervalMs = 250;
        config.EnableAutoOffsetStore = false;     // stored only after the database commit
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        config.SessionTimeoutMs ??= _options.SessionTimeoutMs;
        config.HeartbeatIntervalMs ??= Math.Max(100, _options.SessionTimeoutMs / 5);
        config.EnablePartitionEof = false;
        // fetch.wait.max.ms stays librdkafka's 500 ms: a broker answers a waiting fetch as soon as
        // data arrives (the embedded one too, with eng/librdkafka-mock-fetch.patch), so the wait
        // costs no latency, and an idle consumer sends 2 fetches a second per broker, not 100.
        config.SocketNagleDisable ??= true;

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler((c, assigned) =>
            {
                foreach (var partition in assigned) _workers[partition] = new PartitionWorker(this, c, partition);
                Log.Assigned(logger, string.Join(", ", assigned));
            })
            .SetPartitionsRevokedHandler((c, revoked) => GiveBack(c, [.. revoked.Select(p => p.TopicPartition)]))
            .SetPartitionsLostHandler((c, lost) => GiveBack(c, [.. lost.Select(p => p.TopicPartition)]))
            .SetErrorHandler((_, error) => Log.ConsumerError(logger, error.Code.ToString(), error.Reason))
            .SetLogHandler((_, m) => { if (m.Level <= SyslogLevel.Warning) Log.KafkaClient(logger, m.Name, m.Message); })
            .Build();
        consumer.Subscribe(handlers.Topics);
        var lagMeasured = Stopwatch.StartNew();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ServeWorkers(consumer);
                if (lagMeasured.Elapsed >= TimeSpan.FromSeconds(1))
                {
                    MeasureLag(consumer);
                    lagMeasured.Restart();
                }
                ConsumeResult<byte[]?, byte[]?>? result;
                var polled = Stopwatch.GetTimestamp();
                try
                {
                    result = consumer.Consume(WorkersBusy() ? BusyPoll : IdlePoll);
                }
                catch (ConsumeException ex)
                {
                    Log.ConsumerError(logger, ex.Error.Code.ToString(), ex.Error.Reason);
                    continue;
                }
                if (result?.Message is null) continue;
                RecordReceive(result, polled);
                if (!_workers.TryGetValue(result.TopicPartition, out var worker)) continue;
                if (worker.Enqueue(result) >= _options.PartitionBacklog && !worker.Paused)
                {
                    consumer.Pause([result.TopicPartition]);
                    worker.Paused = true;
                }
            }
        }
        finally
        {
            try
            {
                StopWorkers(_workers.Keys.ToList());
            }
            finally
            {
                consumer.Close(); // commits the stored offsets and leaves the group, so a rebalance need not wait
            }
        }
    }

    /// <summary>A poll that returned a message: its time and the count, under the names Aspire's Kafka integration uses.</summary>
    private void RecordReceive(ConsumeResult<byte[]?, byte[]?> result, long polled)
    {
        var tags = new TagList
        {
            { MessagingTelemetry.System, "kafka" },
            { MessagingTelemetry.OperationName, "poll" },
            { MessagingTelemetry.Destination, result.Topic },
            { MessagingTelemetry.PartitionId, result.Partition.Value.ToString(CultureInfo.InvariantCulture) },
            { MessagingTelemetry.ConsumerGroup, _options.ConsumerGroup },
        };
        MessagingTelemetry.ReceiveDuration.Record(Stopwatch.GetElapsedTime(polled).TotalSeconds, tags);
        MessagingTelemetry.ReceiveMessages.Add(1, tags);
    }

    /// <summary>
    /// How long a poll waits for a message. A message ends the wait at once; the wait only bounds
    /// how soon the loop gets back to its workers (to resume a paused partition, replace a failed
    /// worker) and notices a stop. While a worker has messages that is soon; while all are idle
    /// only a stop needs the loop, and an idle service wakes 2 times a second here, not 10.
    /// </summary>
    private static readonly TimeSpan BusyPoll = TimeSpan.FromMilliseconds(100), IdlePoll = TimeSpan.FromMilliseconds(500);

    private bool WorkersBusy()
    {
        foreach (var (_, worker) in _workers)
            if (worker.Queued > 0 || worker.Paused || worker.Faulted is not null) return true;
        return false;
    }

    /// <summary>
    /// On the consumer thread, between polls: resumes partitions whose queue has drained, and
    /// replaces a worker that died (its partition restarts from the last stored offset).
    /// </summary>
    private void ServeWorkers(IConsumer<byte[]?, byte[]?> consumer)
    {
        foreach (var (partition, worker) in _workers)
        {
            if (worker.Faulted is { } fault)
            {
                Log.WorkerFailed(logger, fault, partition.ToString());
                var position = worker.LastStored is { } stored ? new TopicPartitionOffset(partition, stored + 1) : null;
                _workers[partition] = new PartitionWorker(this, consumer, partition);
                consumer.Seek(position ?? new TopicPartitionOffset(partition, consumer.Committed([partition], TimeSpan.FromSeconds(10))[0].Offset is { IsSpecial: false } committed ? committed : Offset.Beginning));
                if (worker.Paused) consumer.Resume([partition]);
            }
            else if (worker.Paused && worker.Queued <= _options.PartitionBacklog / 2)
            {
                worker.Paused = false;
                consumer.Resume([partition]);
            }
        }
    }

    /// <summary>
    /// On the consumer thread: each partition's lag, from the end offset the consumer learnt with
    /// its last fetch (no request to the broker) and the next offset to process.
    /// </summary>
    private void MeasureLag(IConsumer<byte[]?, byte[]?> consumer)
    {
        foreach (var partition in _lag.Keys.Where(p => !_workers.ContainsKey(p))) _lag.TryRemove(partition, out _);
        foreach (var (partition, worker) in _workers)
        {
            try
            {
                var end = consumer.GetWatermarkOffsets(partition).High;
                var next = worker.LastStored is { } stored ? new Offset(stored + 1) : consumer.Position(partition);
                if (end.IsSpecial || next.IsSpecial) continue;
                _lag[partition] = Math.Max(0, end.Value - next.Value);
            }
            catch (KafkaException)
            {
                _lag.TryRemove(partition, out _); // revoked in the meantime: no longer ours to report
            }
        }
    }

    private IEnumerable<System.Diagnostics.Metrics.Measurement<long>> ReportLag() =>
        _lag.Select(entry => new System.Diagnostics.Metrics.Measurement<long>(entry.Value,
            new KeyValuePair<string, object?>(MessagingTelemetry.ConsumerGroup, _options.ConsumerGroup),
            new KeyValuePair<string, object?>(MessagingTelemetry.Destination, entry.Key.Topic),
            new KeyValuePair<string, object?>(MessagingTelemetry.PartitionId, entry.Key.Partition.Value.ToString(CultureInfo.InvariantCulture))));

    /// <summary>Partitions leave this consumer: unpause them (librdkafka keeps a pause across reassignment), then stop their workers.</summary>
    private void GiveBack(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        try
        {
            consumer.Resume(partitions);
        }
        catch (KafkaException ex)
        {
            Log.ConsumerError(logger, ex.Error.Code.ToString(), ex.Error.Reason);
        }
        StopWorkers(partitions);
    }

    private void StopWorkers(IEnumerable<TopicPartition> partitions)
    {
        var stopping = new List<Task>();
        foreach (var partition in partitions)
            if (_workers.TryRemove(partition, out var worker)) stopping.Add(worker.StopAsync());
        // Runs on the consumer thread inside a rebalance: waiting here keeps a partition's messages
        // from being processed by two replicas at once (the inbox would still absorb that).
        if (!Task.WaitAll([.. stopping], TimeSpan.FromSeconds(30))) Log.SlowStop(logger);
    }

    /// <summary>
    /// Processes, in order, messages a partition's worker took from its queue at once. Runs of
    /// messages that parse and have a handler here share one transaction with the runs other
    /// partitions have ready meanwhile (group commit: one commit, one WAL flush, for all of them;
    /// see <see cref="CommitGroupsAsync"/>); the inbox row of each still decides alone whether it
    /// is a duplicate, and the offset is stored only after the commit. Should anything in a shared
    /// transaction fail, it rolls back whole and its messages are processed again one at a time,
    /// each partition's by its own worker, where retries and dead letters apply to each on its own.
    /// With <see cref="MessagingOptions.ConsumerBatchSize"/> 1 every message has a transaction of
    /// its own, and partitions run theirs concurrently.
    /// </summary>
    internal async Task ProcessAsync(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> results, CancellationToken cancellationToken)
    {
        if (_options.ConsumerBatchSize == 1)
        {
            foreach (var result in results) await ProcessAsync(result, cancellationToken).ConfigureAwait(false);
            return;
        }
        var run = new List<Ready>();
        foreach (var result in results)
        {
            if (Prepare(result) is { } ready)
            {
                run.Add(ready);
                continue;
            }
            await ProcessRunAsync(run, cancellationToken).ConfigureAwait(false);
            run.Clear();
            await ProcessAsync(result, cancellationToken).ConfigureAwait(false); // dead-lettered or skipped on its own
        }
        await ProcessRunAsync(run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A run of ready messages: in the next shared transaction, or one at a time should that roll back.</summary>
    private async Task ProcessRunAsync(List<Ready> run, CancellationToken cancellationToken)
    {
        if (run.Count == 0) return;
        var grouped = new GroupedRun(run);
        _grouped.Writer.TryWrite(grouped);
        // A worker that stops stops waiting; its run may still commit, and the partition's next
        // owner then finds its messages in the inbox.
        if (!await grouped.Committed.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
            foreach (var ready in run) await ProcessAsync(ready.Result, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A partition's run of ready messages, waiting for a shared transaction; true once it committed.</summary>
    private sealed record GroupedRun(List<Ready> Run)
    {
        public TaskCompletionSource<bool> Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Group commit across partitions: <see cref="MessagingOptions.SharedTransactions"/> loops,
    /// each running one transaction at a time, holding the runs that workers submitted while the
    /// loops were busy (whole runs, up to <see cref="MessagingOptions.ConsumerBatchSize"/> messages
    /// unless one run alone is more). So under load a service commits many messages at once
    /// however its sagas spread over partitions and topics, while a few transactions at once keep
    /// one message's round trips from holding up every other; and a lone message is handled as
    /// soon as it comes: nothing waits for more to arrive. One attempt only: a run whose
    /// transaction rolled back goes back to its worker, which retries its messages one at a time,
    /// so a failing message holds up its own partition and no other.
    /// </summary>
    private Task CommitGroupsAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.SharedTransactions).Select(_ => Task.Run(() => CommitGroupAsync(stoppingToken), CancellationToken.None)));

    private async Task CommitGroupAsync(CancellationToken stoppingToken)
    {
        var reader = _grouped.Reader;
        var group = new List<GroupedRun>();
        var together = new List<Ready>();
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                group.Clear();
                together.Clear();
                while (reader.TryPeek(out var next) && (together.Count == 0 || together.Count + next.Run.Count <= _options.ConsumerBatchSize)
                    && reader.TryRead(out var taken)) // another loop may have taken the one peeked: then this is the one after it
                {
                    group.Add(taken);
                    together.AddRange(taken.Run);
                }
                if (group.Count == 0) continue;
                var committed = await HandleTogetherAsync(together, stoppingToken).ConfigureAwait(false);
                foreach (var grouped in group) grouped.Committed.TrySetResult(committed);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            foreach (var grouped in group) grouped.Committed.TrySetCanceled(stoppingToken);
        }
    }

    /// <summary>
    /// Processes one message to the end: handled, recognised as a duplicate, or dead-lettered.
    /// Nothing a message can contain stops the partition: what the steps below do not foresee
    /// dead-letters it as well.
    /// </summary>
    internal async Task ProcessAsync(ConsumeResult<byte[]?, byte[]?> result, CancellationToken cancellationToken)
    {
        try
        {
            await ProcessOnceAsync(result, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await DeadLetterAsync(result, "unexpected-failure", ex.Message, ex, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ProcessOnceAsync(ConsumeResult<byte[]?, byte[]?> result, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var scope = BeginMessageScope(result);
        using var activity = StartProcessSpan(result);
        var tags = MetricTags(result);
        MessagingTelemetry.Consumed.Add(1, tags);

        var parsed = Parse(result);
        if (parsed.Problem is { } problem)
        {
            await DeadLetterAsync(result, problem.Reason, problem.Error, exception: null, cancellationToken).ConfigureAwait(false);
            return;
        }
        var (envelope, message) = (parsed.Envelope!, parsed.Message!);
        if (!handlers.TryGet(message.GetType(), out var registration))
        {
            Log.NotHandledHere(logger, envelope.MessageType, result.Topic);
            return;
        }

        var failures = 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Outcome outcome;
                await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
                await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
                {
                    // Outbox rows written here (the handler's, through the context or the Outbox
                    // itself, or a duplicate's replies) wake the relay after the commit, not from
                    // inside it (see Outbox).
                    using var wakeUp = outbox.WakeUpAfterCommit(transaction);
                    outcome = await HandleInAsync(transaction, envelope, message, registration, first: null, cancellationToken).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    wakeUp.Committed();
                }
                Record(outcome, envelope, activity, tags, started);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (InvalidMessageException ex)
            {
                activity.RecordError(ex);
                await DeadLetterAsync(result, "invalid-message", ex.Message, ex, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (Transience.IsTransient(ex))
            {
                Log.TransientFailure(logger, ex, envelope.MessageType, envelope.MessageId, attempt);
            }
            catch (Exception ex)
            {
                activity.RecordError(ex);
                if (++failures >= _options.MaxHandlerAttempts)
                {
                    await DeadLetterAsync(result, "handler-failed", ex.Message, ex, cancellationToken).ConfigureAwait(false);
                    return;
                }
                Log.HandlerFailed(logger, ex, envelope.MessageType, envelope.MessageId, failures, _options.MaxHandlerAttempts);
            }
            MessagingTelemetry.Retried.Add(1, tags);
            await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A message that parsed and has a handler here, ready to be handled with others.</summary>
    private sealed record Ready(ConsumeResult<byte[]?, byte[]?> Result, Envelope Envelope, object Message, MessageHandlers.Registration Registration);

    private Ready? Prepare(ConsumeResult<byte[]?, byte[]?> result) =>
        Parse(result) is { Problem: null, Envelope: { } envelope, Message: { } message } && handlers.TryGet(message.GetType(), out var registration)
            ? new Ready(result, envelope, message, registration)
            : null;

    /// <summary>
    /// Handles messages in one transaction. Each gets its own process span, continuing its own
    /// producer's trace and ending with the shared commit. False when the transaction rolled back
    /// (the messages are then processed one at a time instead).
    /// </summary>
    private async Task<bool> HandleTogetherAsync(List<Ready> run, CancellationToken cancellationToken)
    {
        var outer = Activity.Current;
        var handled = new List<(Ready Ready, Activity? Span, TagList Tags, long Started, Outcome Outcome)>(run.Count);
        var done = false;
        try
        {
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                using var wakeUp = outbox.WakeUpAfterCommit(transaction);
                foreach (var ready in run)
                {
                    var started = Stopwatch.GetTimestamp();
                    var tags = MetricTags(ready.Result);
                    using var scope = BeginMessageScope(ready.Result);
                    var span = StartProcessSpan(ready.Result);
                    handled.Add((ready, span, tags, started, default));
                    var first = handled.Count == 1 ? ShortLockWait() : null;
                    var outcome = await HandleInAsync(transaction, ready.Envelope, ready.Message, ready.Registration, first, cancellationToken).ConfigureAwait(false);
                    handled[^1] = handled[^1] with { Outcome = outcome };
                    Activity.Current = outer; // the next message's span is no child of this one
                }
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                wakeUp.Committed();
            }
            done = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TogetherRolledBack(logger, ex, run.Count, string.Join(", ", run.Select(r => r.Result.TopicPartition).Distinct()));
            foreach (var (_, span, _, _, _) in handled)
                span?.SetStatus(ActivityStatusCode.Error, "rolled back with the other messages of its transaction; processed again on its own");
            return false;
        }
        finally
        {
            Activity.Current = outer;
            if (!done)
                foreach (var (_, span, _, _, _) in handled) span?.Dispose();
        }
        foreach (var (ready, span, tags, started, outcome) in handled)
        {
            MessagingTelemetry.Consumed.Add(1, tags);
            span?.SetTag("sagaaspire.inbox.batch_size", run.Count);
            Record(outcome, ready.Envelope, span, tags, started);
            span?.Dispose();
        }
        return true;
    }

    /// <summary>
    /// A shared transaction waits at most <see cref="MessagingOptions.SharedLockTimeout"/> for any
    /// lock (SET LOCAL: to its end only). Holding the locks of many messages, it could otherwise
    /// deadlock with another replica's shared transaction taking the same rows in another order,
    /// and wait a second for PostgreSQL to notice; this way it rolls back at once and its messages
    /// are processed one at a time, where lock waits are ordinary again.
    /// </summary>
    private NpgsqlBatchCommand ShortLockWait() => new(_shortLockWait);

    /// <summary>Every log line about a message names its saga and message (trace and span ids come from its process span).</summary>
    private IDisposable? BeginMessageScope(ConsumeResult<byte[]?, byte[]?> result)
    {
        var headers = result.Message.Headers ?? [];
        return logger.BeginScope(new Dictionary<string, object?>
        {
            ["saga.id"] = headers.GetString(MessageHeaders.SagaId),
            ["messaging.message.id"] = headers.GetString(MessageHeaders.MessageId),
            ["messaging.destination.name"] = result.Topic,
        });
    }

    /// <summary>The process span of a message, a child of its producer's span.</summary>
    private Activity? StartProcessSpan(ConsumeResult<byte[]?, byte[]?> result)
    {
        var headers = result.Message.Headers ?? [];
        var activity = MessagingTelemetry.StartProcess(result.Topic, headers.GetString(MessageHeaders.TraceParent), headers.GetString(MessageHeaders.TraceState), _server);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingTelemetry.PartitionId, result.Partition.Value.ToString(CultureInfo.InvariantCulture));
            activity.SetTag(MessagingTelemetry.Offset, result.Offset.Value);
            if (result.Message.Key is { } key) activity.SetTag(MessagingTelemetry.MessageKey, Encoding.UTF8.GetString(key));
            activity.SetTag(MessagingTelemetry.ConsumerGroup, _options.ConsumerGroup);
            activity.SetTag(MessagingTelemetry.MessageId, headers.GetString(MessageHeaders.MessageId));
            activity.SetTag(MessagingTelemetry.MessageType, headers.GetString(MessageHeaders.MessageType));
            activity.SetTag(MessagingTelemetry.SagaId, headers.GetString(MessageHeaders.SagaId));
            activity.SetTag(MessagingTelemetry.BodySize, result.Message.Value?.Length ?? 0);
        }
        return activity;
    }

    private TagList MetricTags(ConsumeResult<byte[]?, byte[]?> result) =>
        new() { { MessagingTelemetry.Destination, result.Topic }, { MessagingTelemetry.ConsumerGroup, _options.ConsumerGroup } };

    /// <summary>What a committed message adds to its span, the metrics and the log.</summary>
    private void Record(Outcome outcome, Envelope envelope, Activity? activity, TagList tags, long started)
    {
        if (outcome.Duplicate)
        {
            MessagingTelemetry.Duplicates.Add(1, tags);
            activity?.SetTag("sagaaspire.inbox.duplicate", true);
        }
        if (outcome.RepliesResent > 0)
        {
            MessagingTelemetry.RepliesResent.Add(outcome.RepliesResent, tags);
            activity?.SetTag("sagaaspire.inbox.replies_resent", outcome.RepliesResent);
            Log.RepliesResent(logger, envelope.MessageType, envelope.MessageId, outcome.RepliesResent);
        }
        MessagingTelemetry.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }

    /// <summary>How handling a message ended: handled, or a duplicate whose recorded replies were sent again.</summary>
    private readonly record struct Outcome(bool Duplicate, int RepliesResent);

    /// <summary>
    /// Handles one message inside the caller's transaction: holds its saga and records it in the
    /// inbox, then runs its handler, or, when the inbox knew it already, puts its recorded replies
    /// into the outbox again. For a handler that reads first the hold and the record go in the
    /// round trip of its first read (<see cref="MessageContext.ReadAsync{T}"/>), else in one of
    /// their own before it runs. The caller commits. <paramref name="first"/>, if any, runs before
    /// all of it, in the same round trip.
    /// </summary>
    private async Task<Outcome> HandleInAsync(NpgsqlTransaction transaction, Envelope envelope, object message, MessageHandlers.Registration registration, NpgsqlBatchCommand? first, CancellationToken cancellationToken)
    {
        var connection = transaction.Connection!;
        var record = new NpgsqlBatchCommand(MessageContext.HoldSagaAndRecordSql)
        {
            Parameters =
            {
                new() { Value = _options.ConsumerGroup }, new() { Value = envelope.MessageId }, new() { Value = envelope.MessageType }, new() { Value = envelope.SagaId },
            },
        };
        List<NpgsqlBatchCommand> recording = first is null ? [record] : [first, record];

        await using var scope = scopes.CreateAsyncScope();
        var handler = registration.Resolve(scope.ServiceProvider, message);
        var context = new MessageContext(envelope, connection, transaction, handler.ReadsFirst ? recording : null);
        if (!handler.ReadsFirst && !await RecordAsync(transaction, recording, cancellationToken).ConfigureAwait(false))
            return await ResendRepliesAsync(transaction, envelope, cancellationToken).ConfigureAwait(false);
        try
        {
            await handler.HandleAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (HandledBeforeException)
        {
            return await ResendRepliesAsync(transaction, envelope, cancellationToken).ConfigureAwait(false);
        }
        // A handler that reads first but returned without reading: its decisions (writes,
        // messages) are still in the context, unrun, so a message known before drops them.
        if (context.Unrecorded is { } unrecorded)
        {
            if (!await RecordAsync(transaction, unrecorded, cancellationToken).ConfigureAwait(false))
                return await ResendRepliesAsync(transaction, envelope, cancellationToken).ConfigureAwait(false);
            context.MarkRecorded();
        }
        await InboxReplies.SendAndRecordAsync(transaction, _options.ConsumerGroup, envelope.MessageId, context.Writes, context.Outgoing, outbox, cancellationToken).ConfigureAwait(false);
        context.CheckWrites();
        return new Outcome(Duplicate: false, RepliesResent: 0);
    }

    /// <summary>Runs the hold and record of a message (its last command) in one round trip; false when the inbox knew the message already.</summary>
    private static async Task<bool> RecordAsync(NpgsqlTransaction transaction, IReadOnlyList<NpgsqlBatchCommand> recording, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(transaction.Connection, transaction);
        foreach (var command in recording) batch.BatchCommands.Add(command);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return recording[^1].RecordsAffected == 1;
    }

    /// <summary>
    /// A message handled before. Its replies may have been lost on their way, and the sender,
    /// hearing nothing, asks again: it gets the same replies, with the same ids.
    /// </summary>
    private async Task<Outcome> ResendRepliesAsync(NpgsqlTransaction transaction, Envelope envelope, CancellationToken cancellationToken) =>
        new(Duplicate: true, await InboxReplies.ResendAsync(transaction, _options.ConsumerGroup, envelope.MessageId, cancellationToken).ConfigureAwait(false));

    private (Envelope? Envelope, object? Message, (string Reason, string Error)? Problem) Parse(ConsumeResult<byte[]?, byte[]?> result)
    {
        var headers = result.Message.Headers ?? [];
        if (!Guid.TryParse(headers.GetString(MessageHeaders.MessageId), out var messageId))
            return Poison("missing-message-id", $"The '{MessageHeaders.MessageId}' header is missing or not a UUID.");
        var type = headers.GetString(MessageHeaders.MessageType);
        if (string.IsNullOrEmpty(type))
            return Poison("missing-message-type", $"The '{MessageHeaders.MessageType}' header is missing.");
        if (!types.TryGetType(type, out var info))
            return Poison("unknown-message-type", $"'{type}' is not a message type this service knows.");
        var sagaId = headers.GetString(MessageHeaders.SagaId) ?? (result.Message.Key is { } key ? Encoding.UTF8.GetString(key) : null);
        if (string.IsNullOrEmpty(sagaId))
            return Poison("missing-saga-id", "Neither the 'saga-id' header nor the key names the saga.");
        if (result.Message.Value is not { Length: > 0 } body)
            return Poison("empty-body", "The message has no body.");

        object message;
        try
        {
            message = MessageTypes.Deserialize(body, info);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            return Poison("malformed-body", $"The body is not a valid {type}: {ex.Message}");
        }
        var problems = handlers.Validate(message).ToList();
        if (problems.Count > 0)
            return Poison("invalid-message", string.Join("; ", problems));

        Guid? causation = Guid.TryParse(headers.GetString(MessageHeaders.CausationId), out var c) ? c : null;
        return (new Envelope(messageId, type, sagaId, causation, result.Topic, result.Partition.Value, result.Offset.Value), message, null);

        static (Envelope?, object?, (string, string)?) Poison(string reason, string error) => (null, null, (reason, error));
    }

    /// <summary>
    /// Records the message in <c>messaging.dead_letters</c> and queues it for <c>&lt;topic&gt;.dlq</c>
    /// in one transaction, so the partition can move on without losing it.
    /// </summary>
    private async Task DeadLetterAsync(ConsumeResult<byte[]?, byte[]?> result, string reason, string error, Exception? exception, CancellationToken cancellationToken)
    {
        Log.DeadLettered(logger, result.Topic, result.Partition.Value, result.Offset.Value, reason, error);
        // Headers as text, last value winning, with what PostgreSQL cannot store removed: a poison
        // message must not be able to poison its own dead letter.
        var original = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in result.Message.Headers ?? [])
            original[Clean(header.Key)] = Clean(header.GetValueBytes() is { } bytes ? Encoding.UTF8.GetString(bytes) : "");
        var headers = new Dictionary<string, string>(original, StringComparer.Ordinal)
        {
            [MessageHeaders.DeadLetter.Reason] = reason,
            [MessageHeaders.DeadLetter.Error] = error.Length > 1000 ? error[..1000] : error,
            [MessageHeaders.DeadLetter.OriginalTopic] = result.Topic,
            [MessageHeaders.DeadLetter.OriginalPartition] = result.Partition.Value.ToString(CultureInfo.InvariantCulture),
            [MessageHeaders.DeadLetter.OriginalOffset] = result.Offset.Value.ToString(CultureInfo.InvariantCulture),
            [MessageHeaders.DeadLetter.ConsumerGroup] = _options.ConsumerGroup,
            [MessageHeaders.DeadLetter.FailedAt] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
        if (exception is not null) headers[MessageHeaders.DeadLetter.ExceptionType] = exception.GetType().FullName!;
        headers.Remove(MessageHeaders.TraceParent);
        headers.Remove(MessageHeaders.TraceState);
        var key = result.Message.Key is { } k ? Clean(Encoding.UTF8.GetString(k)) : "";
        error = Clean(error);

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using var record = new NpgsqlCommand("""
                    INSERT INTO messaging.dead_letters (consumer, topic, partition, "offset", message_id, message_type, message_key, headers, payload, reason, error, exception_type)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)
                    ON CONFLICT (consumer, topic, partition, "offset") DO NOTHING
                    """, connection, transaction);
                record.Parameters.Add(new() { Value = _options.ConsumerGroup });
                record.Parameters.Add(new() { Value = result.Topic });
                record.Parameters.Add(new() { Value = result.Partition.Value });
                record.Parameters.Add(new() { Value = result.Offset.Value });
                record.Parameters.Add(new() { Value = (object?)original.GetValueOrDefault(MessageHeaders.MessageId) ?? DBNull.Value });
                record.Parameters.Add(new() { Value = (object?)original.GetValueOrDefault(MessageHeaders.MessageType) ?? DBNull.Value });
                record.Parameters.Add(new() { Value = key });
                record.Parameters.Add(new() { Value = JsonSerializer.Serialize(original, OutboxJson.Default.DictionaryStringString) });
                record.Parameters.Add(new() { Value = (object?)result.Message.Value ?? DBNull.Value });
                record.Parameters.Add(new() { Value = reason });
                record.Parameters.Add(new() { Value = error });
                record.Parameters.Add(new() { Value = (object?)exception?.GetType().FullName ?? DBNull.Value });
                if (await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
                {
                    var (traceParent, traceState) = Activity.Current is { } current ? (current.Id, current.TraceStateString) : (null, null);
                    await Outbox.InsertAsync(transaction,
                        [new OutboxRow(Guid.CreateVersion7(), DeadLetterTopic(result.Topic), key, null, original.GetValueOrDefault(MessageHeaders.SagaId), null,
                            traceParent, traceState, headers, result.Message.Value ?? [])],
                        cancellationToken).ConfigureAwait(false);
                }
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                MessagingTelemetry.DeadLettered.Add(1, new TagList { { MessagingTelemetry.Destination, result.Topic }, { "sagaaspire.dead_letter.reason", reason } });
                return;
            }
            catch (Exception ex) when (Transience.IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                Log.TransientFailure(logger, ex, "dead letter", Guid.Empty, attempt);
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public static string DeadLetterTopic(string topic) => topic + ".dlq";

    private static string Clean(string text) => text.Contains('\0', StringComparison.Ordinal) ? text.Replace("\0", "", StringComparison.Ordinal) : text;

    private TimeSpan Backoff(int attempt)
    {
        var exponential = TimeSpan.FromMilliseconds(100 * Math.Pow(2, Math.Min(attempt - 1, 16)));
        var capped = exponential < _options.MaxRetryDelay ? exponential : _options.MaxRetryDelay;
        return capped * (0.8 + Random.Shared.NextDouble() * 0.4);
    }

    private async Task CleanInboxPeriodicallyAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        try
        {
            do
            {
                try
                {
                    await using var delete = dataSource.CreateCommand("DELETE FROM messaging.inbox WHERE consumer = $1 AND processed_at < now() - $2");
                    delete.Parameters.Add(new() { Value = _options.ConsumerGroup });
                    delete.Parameters.Add(new() { Value = _options.InboxRetention });
                    await delete.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (NpgsqlException ex)
                {
                    Log.InboxCleanupFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>Processes one partition's messages in order, on its own task.</summary>
    private sealed class PartitionWorker
    {
        private readonly InboxConsumer _owner;
        private readonly IConsumer<byte[]?, byte[]?> _consumer;
        private readonly TopicPartition _partition;
        private readonly Channel<ConsumeResult<byte[]?, byte[]?>> _queue = Channel.CreateUnbounded<ConsumeResult<byte[]?, byte[]?>>(new() { SingleReader = true, SingleWriter = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        private int _queued;

        public PartitionWorker(InboxConsumer owner, IConsumer<byte[]?, byte[]?> consumer, TopicPartition partition)
        {
            _owner = owner;
            _consumer = consumer;
            _partition = partition;
            _run = Task.Run(RunAsync);
        }

        public volatile bool Paused;

        public int Queued => Volatile.Read(ref _queued);

        /// <summary>The offset of the last message whose processing is finished and stored.</summary>
        public long? LastStored { get; private set; }

        /// <summary>Why the worker stopped, if it failed (only a bug gets here: processing is total).</summary>
        public Exception? Faulted => _run.IsFaulted ? _run.Exception.GetBaseException() : null;

        public int Enqueue(ConsumeResult<byte[]?, byte[]?> result)
        {
            _queue.Writer.TryWrite(result);
            return Interlocked.Increment(ref _queued);
        }

        public async Task StopAsync()
        {
            _queue.Writer.TryComplete();
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _run.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the message in flight rolls back and is redelivered to the partition's next owner
            }
            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            var reader = _queue.Reader;
            var batch = new List<ConsumeResult<byte[]?, byte[]?>>(_owner._options.ConsumerBatchSize);
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                // What is waiting already, up to the batch size: nothing waits for more to arrive.
                batch.Clear();
                while (batch.Count < _owner._options.ConsumerBatchSize && reader.TryRead(out var result)) batch.Add(result);
                if (batch.Count == 0) continue;
                _stop.Token.ThrowIfCancellationRequested();
                await _owner.ProcessAsync(batch, _stop.Token).ConfigureAwait(false);
                // A worker that outlived its partition must not store offsets for the next owner.
                if (!_owner._workers.TryGetValue(_partition, out var current) || current != this) return;
                var last = batch[^1];
                try
                {
                    _consumer.StoreOffset(last);
                }
                catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_State)
                {
                    return; // the partition was taken away meanwhile; its next owner re-reads from the last commit
                }
                LastStored = last.Offset.Value;
                Interlocked.Add(ref _queued, -batch.Count);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Consumer assigned {Partitions}")]
        public static partial void Assigned(ILogger logger, string partitions);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Kafka consumer error {Code}: {Reason}")]
        public static partial void ConsumerError(ILogger logger, string code, string reason);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Kafka consumer {Client}: {Message}")]
        public static partial void KafkaClient(ILogger logger, string client, string message);

        [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Transient failure processing {MessageType} {MessageId} (attempt {Attempt}); retrying, the partition waits")]
        public static partial void TransientFailure(ILogger logger, Exception exception, string messageType, Guid messageId, int attempt);

        [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Handler for {MessageType} {MessageId} failed ({Failures} of {MaxAttempts}); retrying")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string messageType, Guid messageId, int failures, int maxAttempts);

        [LoggerMessage(EventId = 1305, Level = LogLevel.Error, Message = "Dead-lettered {Topic}[{Partition}]@{Offset}: {Reason}: {Error}")]
        public static partial void DeadLettered(ILogger logger, string topic, int partition, long offset, string reason, string error);

        [LoggerMessage(EventId = 1306, Level = LogLevel.Debug, Message = "{MessageType} on {Topic} has no handler in this service; skipped")]
        public static partial void NotHandledHere(ILogger logger, string messageType, string topic);

        [LoggerMessage(EventId = 1307, Level = LogLevel.Warning, Message = "Inbox clean-up failed; it runs again within the hour")]
        public static partial void InboxCleanupFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 1308, Level = LogLevel.Error, Message = "The worker of partition {Partition} failed; a new one resumes from the last stored offset")]
        public static partial void WorkerFailed(ILogger logger, Exception exception, string partition);

        [LoggerMessage(EventId = 1309, Level = LogLevel.Warning, Message = "A partition worker did not stop within 30 s; its partition moves on without it")]
        public static partial void SlowStop(ILogger logger);

        [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "{MessageType} {MessageId} was handled before; its {Count} replies were sent again")]
        public static partial void RepliesResent(ILogger logger, string messageType, Guid messageId, int count);

        [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "A transaction of {Count} messages from {Partitions} rolled back; processing them one at a time")]
        public static partial void TogetherRolledBack(ILogger logger, Exception exception, int count, string partitions);
    }
}
