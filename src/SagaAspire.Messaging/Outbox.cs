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
/// </summary>
public sealed class Outbox(MessageTypes types)
{
    internal const string Channel = "sagaaspire_outbox";

    public Task EnqueueAsync(NpgsqlTransaction transaction, OutgoingMessage message, CancellationToken cancellationToken = default) =>
        EnqueueAsync(transaction, [message], cancellationToken);

    public async Task EnqueueAsync(NpgsqlTransaction transaction, IReadOnlyCollection<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        if (messages.Count == 0) return;
        var rows = messages.Select(m =>
        {
            var (traceParent, traceState) = m.TraceParent is not null ? (m.TraceParent, m.TraceState) : CurrentTraceContext();
            return new OutboxRow(m.MessageId, m.Topic, m.SagaId, types.WireNameOf(m.Message.GetType()), m.SagaId, m.CausationId,
                traceParent, traceState, Headers: null, types.Serialize(m.Message));
        }).ToList();
        await InsertAsync(transaction, rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rows already in wire form (dead letters, replays): topic, key, body and headers as received.</summary>
    internal static async Task InsertAsync(NpgsqlTransaction transaction, IReadOnlyList<OutboxRow> rows, CancellationToken cancellationToken)
    {
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction is already completed.");
        await using var batch = new NpgsqlBatch(connection, transaction);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO messaging.outbox (message_id, topic, message_key, message_type, saga_id, causation_id, traceparent, tracestate, headers, payload)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::jsonb[], $10::bytea[])
            """);
        insert.Parameters.Add(new() { Value = rows.Select(r => r.MessageId).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Topic).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Key).ToArray() });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.MessageType).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.SagaId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.CausationId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.TraceParent).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.TraceState).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Headers is null ? null : JsonSerializer.Serialize(r.Headers, OutboxJson.Default.DictionaryStringString)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        insert.Parameters.Add(new() { Value = rows.Select(r => r.Payload).ToArray() });
        batch.BatchCommands.Add(insert);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_notify('{Channel}', '')"));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static (string? TraceParent, string? TraceState) CurrentTraceContext()
    {
        var activity = Activity.Current;
        return activity is null || activity.IdFormat != ActivityIdFormat.W3C ? (null, null) : (activity.Id, activity.TraceStateString);
    }
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
