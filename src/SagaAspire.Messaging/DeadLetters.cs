using System.Text;
using System.Text.Json;
using Npgsql;

namespace SagaAspire.Messaging;

/// <summary>A message a consumer could not process, as it arrived, with the reason.</summary>
public sealed record DeadLetter(
    long Id,
    string Consumer,
    string Topic,
    int Partition,
    long Offset,
    string? MessageId,
    string? MessageType,
    string? Key,
    string Reason,
    string Error,
    string? ExceptionType,
    DateTimeOffset FailedAt,
    DateTimeOffset? ReplayedAt,
    string? Body);

public enum ReplayOutcome
{
    Replayed,
    NotFound,
    AlreadyReplayed,
}

/// <summary>
/// Lists and replays a service's dead letters. A replay puts the original message (same id, key,
/// body and headers, and the saga's trace context) back on its original topic through the outbox;
/// the inbox never recorded a dead-lettered message, so it is processed afresh.
/// </summary>
public sealed class DeadLetters(NpgsqlDataSource dataSource)
{
    private const int BodyPreviewBytes = 4096;

    public async Task<IReadOnlyList<DeadLetter>> ListAsync(int limit, bool includeReplayed, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, consumer, topic, partition, "offset", message_id, message_type, message_key, reason, error, exception_type, failed_at, replayed_at, payload
            FROM messaging.dead_letters WHERE $2 OR replayed_at IS NULL ORDER BY id DESC LIMIT $1
            """);
        command.Parameters.Add(new() { Value = limit });
        command.Parameters.Add(new() { Value = includeReplayed });
        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            letters.Add(new DeadLetter(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.GetString(8), reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.GetFieldValue<DateTimeOffset>(11),
                reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
                reader.IsDBNull(13) ? null : Preview((byte[])reader.GetValue(13))));
        }
        return letters;
    }

    public async Task<ReplayOutcome> ReplayAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        OutboxRow row;
        await using (var select = new NpgsqlCommand(
            "SELECT topic, message_key, headers::text, payload, replayed_at IS NOT NULL FROM messaging.dead_letters WHERE id = $1 FOR UPDATE",
            connection, transaction) { Parameters = { new() { Value = id } } })
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return ReplayOutcome.NotFound;
            if (reader.GetBoolean(4)) return ReplayOutcome.AlreadyReplayed;
            var headers = JsonSerializer.Deserialize(reader.GetString(2), OutboxJson.Default.DictionaryStringString)!;
            headers.Remove(MessageHeaders.TraceParent, out var traceParent);
            headers.Remove(MessageHeaders.TraceState, out var traceState);
            row = new OutboxRow(Guid.CreateVersion7(), reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1), null,
                headers.GetValueOrDefault(MessageHeaders.SagaId), null, traceParent, traceState, headers,
                reader.IsDBNull(3) ? [] : (byte[])reader.GetValue(3));
        }
        await Outbox.InsertAsync(transaction, [row], cancellationToken).ConfigureAwait(false);
        await using (var mark = new NpgsqlCommand("UPDATE messaging.dead_letters SET replayed_at = now() WHERE id = $1", connection, transaction)
                     { Parameters = { new() { Value = id } } })
            await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ReplayOutcome.Replayed;
    }

    private static string Preview(byte[] body) =>
        Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, BodyPreviewBytes));
}
