using System.Data;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Data;

/// <summary>A saga as stored: its state, its data, its version and the trace it belongs to.</summary>
internal sealed record StoredSaga(SagaState State, OrderPlaced Data, int Version, string? TraceParent, string? TraceState);

/// <summary>
/// Loads and saves sagas inside the caller's transaction. A load takes the row lock; a save
/// checks the version it loaded (optimistic concurrency), so a lost race is retried, never applied
/// twice. Saves and timeline entries are commands for the caller to run together with the
/// messages they cause (<see cref="Messaging.Outbox"/>), in one round trip.
/// </summary>
internal sealed class SagaStore
{
    private const string LoadForUpdateSql = "SELECT state::text, data::text, version, traceparent, tracestate FROM sagas WHERE saga_id = $1 FOR UPDATE";

    public async Task<StoredSaga?> LoadForUpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sagaId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(LoadForUpdateSql, connection, transaction) { Parameters = { new() { Value = sagaId } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadStoredAsync(reader, cancellationToken);
    }

    /// <summary>The same load as a message handler's first read: in the round trip in which the inbox holds the saga and records the message.</summary>
    public static Task<StoredSaga?> LoadForUpdateAsync(MessageContext context, string sagaId, CancellationToken cancellationToken) =>
        context.ReadAsync([new NpgsqlBatchCommand(LoadForUpdateSql) { Parameters = { new() { Value = sagaId } } }], ReadStoredAsync, cancellationToken);

    private static async Task<StoredSaga?> ReadStoredAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new StoredSaga(
            JsonSerializer.Deserialize(reader.GetString(0), OrchestratorJson.Default.SagaState)!,
            JsonSerializer.Deserialize(reader.GetString(1), OrchestratorJson.Default.OrderPlaced)!,
            reader.GetInt32(2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    /// <summary>
    /// The insert of a new saga, for the caller to run with its timeline and its first messages,
    /// in one round trip. The caller holds the saga (the inbox's lock) and found none: a saga of
    /// this id that exists nonetheless fails the insert, and the transaction with it.
    /// </summary>
    public static NpgsqlBatchCommand Insert(SagaState state, OrderPlaced data, string currentStep)
    {
        var activity = Activity.Current;
        var command = new NpgsqlBatchCommand("""
            INSERT INTO sagas (saga_id, order_id, status, current_step, failure_reason, state, data, version, deadline_at, traceparent, tracestate, started_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, 1, $8, $9, $10, $11, $11)
            """);
        command.Parameters.Add(new() { Value = state.SagaId });
        command.Parameters.Add(new() { Value = data.OrderId });
        command.Parameters.Add(new() { Value = state.Status.ToString() });
        command.Parameters.Add(new() { Value = currentStep });
        command.Parameters.Add(new() { Value = (object?)state.FailureReason ?? DBNull.Value });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(state, OrchestratorJson.Default.SagaState) });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(data, OrchestratorJson.Default.OrderPlaced) });
        command.Parameters.Add(new() { Value = (object?)state.DeadlineAt ?? DBNull.Value });
        command.Parameters.Add(new() { Value = (object?)activity?.Id ?? DBNull.Value });
        command.Parameters.Add(new() { Value = (object?)activity?.TraceStateString ?? DBNull.Value });
        command.Parameters.Add(new() { Value = state.StartedAt });
        return command;
    }

    /// <summary>
    /// The save of a saga's new state, for the caller to run (with the timeline and the outbox, in
    /// one round trip); it changes one row, or none when the saga moved on since
    /// <paramref name="expectedVersion"/> was read (see <see cref="EnsureSaved"/>).
    /// </summary>
    public static NpgsqlBatchCommand Update(SagaState state, string currentStep, int expectedVersion)
    {
        var command = new NpgsqlBatchCommand("""
            UPDATE sagas SET status = $2, current_step = $3, failure_reason = $4, state = $5::jsonb, deadline_at = $6, updated_at = $7, version = version + 1
            WHERE saga_id = $1 AND version = $8
            """);
        command.Parameters.Add(new() { Value = state.SagaId });
        command.Parameters.Add(new() { Value = state.Status.ToString() });
        command.Parameters.Add(new() { Value = currentStep });
        command.Parameters.Add(new() { Value = (object?)state.FailureReason ?? DBNull.Value });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(state, OrchestratorJson.Default.SagaState) });
        command.Parameters.Add(new() { Value = (object?)state.DeadlineAt ?? DBNull.Value });
        command.Parameters.Add(new() { Value = state.UpdatedAt });
        command.Parameters.Add(new() { Value = expectedVersion });
        return command;
    }

    /// <summary>After <see cref="Update"/> ran: throws when it saved nothing, so the lost race is retried.</summary>
    public static void EnsureSaved(NpgsqlBatchCommand update, string sagaId, int expectedVersion)
    {
        if (update.RecordsAffected != 1)
            throw new DBConcurrencyException($"Saga {sagaId} changed since version {expectedVersion} was read.");
    }

    /// <summary>The timeline's new entries, for the caller to run; none when there are none.</summary>
    public static IEnumerable<NpgsqlBatchCommand> AppendTimeline(string sagaId, IReadOnlyList<TimelineEntry> entries)
    {
        if (entries.Count == 0) yield break;
        var command = new NpgsqlBatchCommand("""
            INSERT INTO saga_timeline (saga_id, step, outcome, reason, at, trace_id)
            SELECT $1, step, outcome, reason, at, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS t(step, outcome, reason, at)
            """);
        command.Parameters.Add(new() { Value = sagaId });
        command.Parameters.Add(new() { Value = entries.Select(e => e.Step).ToArray() });
        command.Parameters.Add(new() { Value = entries.Select(e => e.Outcome).ToArray() });
        command.Parameters.Add(new() { Value = entries.Select(e => e.Reason).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = entries.Select(e => e.At).ToArray() });
        command.Parameters.Add(new() { Value = (object?)Activity.Current?.TraceId.ToHexString() ?? DBNull.Value });
        yield return command;
    }
}
