using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;

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
    /// Runs the handler's deferred writes (<see cref="MessageContext.Write"/>), writes its outgoing
    /// messages to the outbox and records them with the inbox row, in one round trip. The caller
    /// wakes the relay after its commit.
    /// </summary>
    public static async Task SendAndRecordAsync(NpgsqlTransaction transaction, string consumer, Guid messageId,
        IReadOnlyList<NpgsqlBatchCommand> writes, IReadOnlyCollection<OutgoingMessage> messages, Outbox outbox, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            await outbox.EnqueueAsync(transaction, messages, writes, cancellationToken).ConfigureAwait(false);
            return;
        }
        var rows = outbox.ToRows(messages);
        var replies = rows.Select(r => new RecordedReply(r.MessageId, r.Topic, r.Key, r.MessageType, r.SagaId, r.CausationId, r.Payload)).ToList();
        var record = new NpgsqlBatchCommand("UPDATE messaging.inbox SET replies = $3::jsonb WHERE consumer = $1 AND message_id = $2")
        {
            Parameters =
            {
                new() { Value = consumer },
                new() { Value = messageId },
                new() { Value = JsonSerializer.Serialize(replies, InboxRepliesJson.Default.ListRecordedReply) },
            },
        };
        await Outbox.InsertAsync(transaction, rows, cancellationToken, alongside: [.. writes, record]).ConfigureAwait(false);
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
        await using var select = new NpgsqlCommand("SELECT replies::text FROM messaging.inbox WHERE consumer = $1 AND message_id = $2", transaction.Connection, transaction)
        {
            Parameters = { new() { Value = consumer }, new() { Value = messageId } },
        };
        if (await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not string recorded) return 0;
        var replies = JsonSerializer.Deserialize(recorded, InboxRepliesJson.Default.ListRecordedReply) ?? [];
        if (replies.Count == 0) return 0;
        var (traceParent, traceState) = Outbox.CurrentTraceContext();
        var rows = replies.Select(r => new OutboxRow(r.MessageId, r.Topic, r.MessageKey, r.MessageType, r.SagaId, r.CausationId,
            traceParent, traceState, Headers: null, r.Payload)).ToList();
        await Outbox.InsertAsync(transaction, rows, cancellationToken).ConfigureAwait(false);
        return rows.Count;
    }
}

/// <summary>A reply as recorded with the inbox row: what its outbox row needs, but the trace context.</summary>
internal sealed record RecordedReply(
    [property: JsonPropertyName("message_id")] Guid MessageId,
    [property: JsonPropertyName("topic")] string Topic,
    [property: JsonPropertyName("message_key")] string MessageKey,
    [property: JsonPropertyName("message_type")] string? MessageType,
    [property: JsonPropertyName("saga_id")] string? SagaId,
    [property: JsonPropertyName("causation_id")] Guid? CausationId,
    [property: JsonPropertyName("payload")] byte[] Payload);

[JsonSerializable(typeof(List<RecordedReply>))]
internal sealed partial class InboxRepliesJson : JsonSerializerContext;
