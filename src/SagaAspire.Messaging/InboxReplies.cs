using Npgsql;
using NpgsqlTypes;

namespace SagaAspire.Messaging;

/// <summary>
/// The replies a handler sent, kept with its inbox row (<c>messaging.inbox.replies</c>), so that a
/// redelivery of the message gets the same replies again. A participant's reply can be lost on its
/// way; the orchestrator then re-sends the command with the same message id, which the inbox
/// recognises as handled. Without the recorded replies that re-send would be answered by nothing
/// and the saga would compensate a step that succeeded.
/// </summary>
internal static class InboxReplies
{
    /// <summary>
    /// Writes the handler's outgoing messages to the outbox and records them with the inbox row,
    /// in one statement. The caller wakes the relay after its commit.
    /// </summary>
    public static async Task SendAndRecordAsync(NpgsqlTransaction transaction, string consumer, Guid messageId,
        IReadOnlyCollection<OutgoingMessage> messages, MessageTypes types, CancellationToken cancellationToken)
    {
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction is already completed.");
        // The outbox columns as Outbox.InsertAsync writes them for messages sent by a handler
        // (no headers: the relay builds them from these columns).
        await using var command = new NpgsqlCommand("""
            WITH sent AS (
                INSERT INTO messaging.outbox (message_id, topic, message_key, message_type, saga_id, causation_id, traceparent, tracestate, payload)
                SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[], $11::bytea[])
                RETURNING id, message_id, topic, message_key, message_type, saga_id, causation_id, payload
            )
            UPDATE messaging.inbox
            SET replies = (SELECT jsonb_agg(jsonb_build_object(
                    'message_id', s.message_id, 'topic', s.topic, 'message_key', s.message_key, 'message_type', s.message_type,
                    'saga_id', s.saga_id, 'causation_id', s.causation_id, 'payload', encode(s.payload, 'base64')) ORDER BY s.id)
                FROM sent AS s)
            WHERE consumer = $1 AND message_id = $2
            """, connection, transaction);
        var (traceParent, traceState) = Outbox.CurrentTraceContext();
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = messageId });
        command.Parameters.Add(new() { Value = messages.Select(m => m.MessageId).ToArray() });
        command.Parameters.Add(new() { Value = messages.Select(m => m.Topic).ToArray() });
        command.Parameters.Add(new() { Value = messages.Select(m => m.SagaId).ToArray() });
        command.Parameters.Add(new() { Value = messages.Select(m => types.WireNameOf(m.Message.GetType())).ToArray() });
        command.Parameters.Add(new() { Value = messages.Select(m => m.SagaId).ToArray() });
        command.Parameters.Add(new() { Value = messages.Select(m => m.CausationId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = messages.Select(m => m.TraceParent ?? traceParent).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = messages.Select(m => m.TraceParent is null ? traceState : m.TraceState).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = messages.Select(m => types.Serialize(m.Message)).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts the replies recorded with the inbox row of (consumer, message id) into the outbox
    /// again, with their original message ids, in the trace of the current span. Returns how many.
    /// </summary>
    /// <remarks>
    /// The original rows may still be in the outbox, unpublished. They are not looked for:
    /// <c>messaging.outbox</c> has no unique index on <c>message_id</c> (one would cost every
    /// insert, and dead-letter replays reuse ids on purpose), and a reply published twice is
    /// harmless, since its receiver's inbox deduplicates on the message id.
    /// </remarks>
    public static async Task<int> ResendAsync(NpgsqlTransaction transaction, string consumer, Guid messageId, CancellationToken cancellationToken)
    {
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction is already completed.");
        await using var command = new NpgsqlCommand("""
            INSERT INTO messaging.outbox (message_id, topic, message_key, message_type, saga_id, causation_id, traceparent, tracestate, payload)
            SELECT r.message_id, r.topic, r.message_key, r.message_type, r.saga_id, r.causation_id, $3, $4, decode(r.payload, 'base64')
            FROM messaging.inbox AS i,
                 ROWS FROM (jsonb_to_recordset(i.replies) AS (message_id uuid, topic text, message_key text, message_type text, saga_id text, causation_id uuid, payload text))
                     WITH ORDINALITY AS r
            WHERE i.consumer = $1 AND i.message_id = $2
            ORDER BY r.ordinality
            """, connection, transaction);
        var (traceParent, traceState) = Outbox.CurrentTraceContext();
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = messageId });
        command.Parameters.Add(new() { Value = (object?)traceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)traceState ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
