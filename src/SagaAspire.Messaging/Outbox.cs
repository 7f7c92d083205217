using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;

namespace SagaAspire.Messaging;

/// <summary>
/// Writes outgoing messages into <c>messaging.outbox</c> inside the caller's transaction, so the
/// messages exist exactly when the state change that caused them does. A rollback publishes
/// nothing; a commit wakes the relay through NOTIFY, which PostgreSQL delivers only on commit.
/// <para>
/// A NOTIFY inside the writer's transaction costs throughput: PostgreSQL serializes the commits
/// of every notifying transaction in the whole server (one lock, held through the commit's WAL
/// flush), so they lose group commit. Writers on the hot path (the inbox consumer, the order
/// API) therefore use <see cref="WakeUpAfterCommit"/>: after their commit they hand the rows they
/// wrote to the relay when it leads in this process (it publishes them as they are, without
/// reading them back), and otherwise wake the leader through one NOTIFY from a transaction of its
/// own, shared by every commit that happens meanwhile.
/// </para>
/// </summary>
public sealed class Outbox
{
    private readonly MessageTypes types;
    private readonly NpgsqlDataSource? dataSource;
    private readonly RelaySignal? relay;

    public Outbox(MessageTypes types, NpgsqlDataSource? dataSource = null)
        : this(types, dataSource, relay: null)
    {
    }

    internal Outbox(MessageTypes types, NpgsqlDataSource? dataSource, RelaySignal? relay)
    {
        this.types = types;
        this.dataSource = dataSource;
        this.relay = relay;
    }

    internal const string Channel = "sagaaspire_outbox";

    private static readonly AsyncLocal<RelayWakeUp?> Deferred = new();
    private int _wakeUpPending;

    /// <summary>
    /// Until disposed, outbox rows written in this asynchronous flow do not NOTIFY inside their
    /// transaction; call <see cref="RelayWakeUp.Committed"/> after the commit instead. The rows
    /// written in <paramref name="transaction"/> are then handed to the relay when it leads in
    /// this process, and it publishes them without reading the table; rows written in any other
    /// transaction (or all of them, without one) only wake it to read the table, since only the
    /// caller knows which transaction committed. Without a data source (an Outbox built by hand)
    /// rows keep notifying in their transaction.
    /// </summary>
    public RelayWakeUp WakeUpAfterCommit(NpgsqlTransaction? transaction = null)
    {
        var scope = new RelayWakeUp(this, Deferred.Value, transaction);
        if (dataSource is not null) Deferred.Value = scope;
        return scope;
    }

    internal static void Restore(RelayWakeUp scope, RelayWakeUp? previous)
    {
        if (Deferred.Value == scope) Deferred.Value = previous;
    }

    /// <summary>
    /// Rows just committed: handed to the relay when it leads in this process, else the leader
    /// is woken with one NOTIFY. While a NOTIFY is on its way, further requests only mark that
    /// another is needed once it has left, so a burst of commits costs a few notifications, not
    /// one each.
    /// </summary>
    /// <param name="committed">Rows of the committed transaction, for the relay to publish as they are.</param>
    /// <param name="readTable">Whether rows were also committed that the relay must read from the table.</param>
    internal void HandOver(IReadOnlyList<OutboxRelay.Row> committed, bool readTable)
    {
        if (relay is { LeaderHere: true })
        {
            if (committed.Count > 0) relay.Hand(committed);
            if (readTable) relay.RequestRead();
            return;
        }
        if (dataSource is null || Interlocked.Exchange(ref _wakeUpPending, 1) == 1) return;
        _ = Task.Run(SendWakeUpAsync);
    }

    private async Task SendWakeUpAsync()
    {
        try
        {
            await using var connection = await dataSource!.OpenConnectionAsync().ConfigureAwait(false);
            // A commit from here on asks for a wake-up of its own: this one may reach the relay
            // before that commit is visible.
            Volatile.Write(ref _wakeUpPending, 0);
            // Only a hint (the relay also polls), so it need not wait for the disk.
            await using var notify = new NpgsqlCommand($"SELECT set_config('synchronous_commit', 'off', true), pg_notify('{Channel}', '')", connection);
            await notify.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            // The database is unreachable or the service is stopping: the relay's poll
            // (Messaging:RelayPollInterval) finds the rows all the same, a little later.
            Volatile.Write(ref _wakeUpPending, 0);
        }
    }

    public Task EnqueueAsync(NpgsqlTransaction transaction, OutgoingMessage message, CancellationToken cancellationToken = default) =>
        EnqueueAsync(transaction, [message], cancellationToken);

    public async Task EnqueueAsync(NpgsqlTransaction transaction, IReadOnlyCollection<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        if (messages.Count == 0) return;
        await InsertAsync(transaction, ToRows(messages), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="alongside"/> (the state change that causes the messages) and writes
    /// <paramref name="messages"/> to the outbox, in that order, in one round trip to the
    /// database: a handler that ends with a write and its messages pays for one statement's
    /// latency, not two. After it returns, each command's <see cref="NpgsqlBatchCommand.RecordsAffected"/>
    /// tells what it changed.
    /// </summary>
    public async Task EnqueueAsync(NpgsqlTransaction transaction, IReadOnlyCollection<OutgoingMessage> messages, IReadOnlyList<NpgsqlBatchCommand> alongside,
        CancellationToken cancellationToken = default)
    {
        if (messages.Count > 0)
        {
            await InsertAsync(transaction, ToRows(messages), cancellationToken, alongside).ConfigureAwait(false);
            return;
        }
        if (alongside.Count == 0) return;
        await using var batch = new NpgsqlBatch(transaction.Connection ?? throw new InvalidOperationException("The transaction is already completed."), transaction);
        foreach (var command in alongside) batch.BatchCommands.Add(command);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Messages in wire form, in the current trace unless they carry a context of their own.</summary>
    internal List<OutboxRow> ToRows(IReadOnlyCollection<OutgoingMessage> messages) => messages.Select(m =>
    {
        var (traceParent, traceState) = m.TraceParent is not null ? (m.TraceParent, m.TraceState) : CurrentTraceContext();
        return new OutboxRow(m.MessageId, m.Topic, m.SagaId, types.WireNameOf(m.Message.GetType()), m.SagaId, m.CausationId,
            traceParent, traceState, Headers: null, types.Serialize(m.Message));
    }).ToList();

    /// <summary>
    /// Rows already in wire form (dead letters, replays, replies sent again): topic, key, body and
    /// headers as given. <paramref name="alongside"/> runs first, in the same round trip (the
    /// inbox recording the replies it sends, a saga's new state).
    /// </summary>
    internal static async Task InsertAsync(NpgsqlTransaction transaction, IReadOnlyList<OutboxRow> rows, CancellationToken cancellationToken,
        IReadOnlyList<NpgsqlBatchCommand>? alongside = null)
    {
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction is already completed.");
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in alongside ?? []) batch.BatchCommands.Add(command);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO messaging.outbox (message_id, topic, message_key, message_type, saga_id, causation_id, traceparent, tracestate, headers, payload)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::jsonb[], $10::bytea[])
            RETURNING id AS outbox_row_id, created_at
            """);
        var headers = rows.Select(r => r.Headers is null ? null : JsonSerializer.Serialize(r.Headers, OutboxJson.Default.DictionaryStringString)).ToArray();
        insert.Parameters.Add(new() { Value = rows.Select(r => r.MessageId).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Topic).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Key).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.MessageType).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.SagaId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.CausationId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.TraceParent).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.TraceState).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = headers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Payload).ToArray() });
        batch.BatchCommands.Add(insert);
        var deferred = Deferred.Value;
        if (deferred?.Transaction != transaction)
        {
            // The relay reads these rows from the table, woken by a NOTIFY inside this transaction
            // (no scope) or after the scope's commit (another transaction than the scope's).
            if (deferred is null) batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_notify('{Channel}', '')"));
            else deferred.OthersWritten = true;
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        // The rows as the relay reads them from the table, ids included, kept until the commit
        // hands them over. The commands alongside may return rows of their own; the insert's are
        // the result set with its column names, one per row in the order of the arrays (an
        // INSERT ... SELECT returns its rows as it inserts them, and takes their ids in that order).
        var written = new List<OutboxRelay.Row>(rows.Count);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            do
            {
                if (reader.FieldCount != 2 || reader.GetName(0) != "outbox_row_id") continue;
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = rows[written.Count];
                    written.Add(new OutboxRelay.Row(reader.GetInt64(0), row.MessageId, row.Topic, row.Key, row.MessageType, row.SagaId, row.CausationId,
                        row.TraceParent, row.TraceState, headers[written.Count], row.Payload, reader.GetFieldValue<DateTimeOffset>(1)));
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }
        deferred!.Written.AddRange(written);
    }

    /// <summary>The W3C context of the current span, stored with a row so its publish continues the trace.</summary>
    internal static (string? TraceParent, string? TraceState) CurrentTraceContext()
    {
        var activity = Activity.Current;
        return activity is null || activity.IdFormat != ActivityIdFormat.W3C ? (null, null) : (activity.Id, activity.TraceStateString);
    }
}

/// <summary>
/// The relay's wake-up for outbox rows written in one unit of work, sent after its commit
/// (<see cref="Outbox.WakeUpAfterCommit"/>).
/// </summary>
public sealed class RelayWakeUp : IDisposable
{
    private readonly Outbox _outbox;
    private readonly RelayWakeUp? _previous;

    internal RelayWakeUp(Outbox outbox, RelayWakeUp? previous, NpgsqlTransaction? transaction)
    {
        _outbox = outbox;
        _previous = previous;
        Transaction = transaction;
    }

    /// <summary>The transaction whose rows are handed to the relay after its commit, if any.</summary>
    internal NpgsqlTransaction? Transaction { get; }

    /// <summary>The outbox rows <see cref="Transaction"/> wrote so far, in id order.</summary>
    internal List<OutboxRelay.Row> Written { get; } = [];

    /// <summary>Whether rows were written in other transactions than <see cref="Transaction"/>.</summary>
    internal bool OthersWritten { get; set; }

    /// <summary>
    /// The transaction committed: hand the outbox rows it wrote to the relay, and wake the relay
    /// to read the table for rows written in any other.
    /// </summary>
    public void Committed()
    {
        if (Written.Count == 0 && !OthersWritten) return;
        var committed = Written.ToList();
        var readTable = OthersWritten;
        Written.Clear();
        OthersWritten = false;
        _outbox.HandOver(committed, readTable);
    }

    public void Dispose() => Outbox.Restore(this, _previous);
}

/// <summary>An outbox row: a message in wire form, waiting to be published.</summary>
internal sealed record OutboxRow(
    Guid MessageId,
    string Topic,
    string Key,
    string? MessageType,
    string? SagaId,
    Guid? CausationId,
    string? TraceParent,
    string? TraceState,
    Dictionary<string, string>? Headers,
    byte[] Payload);

[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class OutboxJson : JsonSerializerContext;
