using System.Text.Json;
using Npgsql;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Data;

/// <summary>A saga in a list.</summary>
public sealed record SagaSummary(string SagaId, string OrderId, string Status, string CurrentStep, string? FailureReason,
    DateTimeOffset StartedAt, DateTimeOffset UpdatedAt, double DurationMs, string? TraceId);

/// <summary>One step of a saga and where it stands.</summary>
public sealed record SagaStepView(string Name, string Status);

/// <summary>One line of a saga's timeline.</summary>
public sealed record TimelineView(string Step, string Outcome, string? Reason, DateTimeOffset At, string? TraceId);

/// <summary>A saga with its steps and full timeline.</summary>
public sealed record SagaDetails(SagaSummary Saga, IReadOnlyList<SagaStepView> Steps, IReadOnlyList<TimelineView> Timeline);

/// <summary>One page of sagas.</summary>
public sealed record SagaPage(IReadOnlyList<SagaSummary> Items, int Page, int PageSize, long Total);

/// <summary>Read side of the orchestrator's tables, for the API.</summary>
internal sealed class SagaQueries(NpgsqlDataSource dataSource)
{
    private const string SummaryColumns = "saga_id, order_id, status, current_step, failure_reason, started_at, updated_at, traceparent";

    public async Task<SagaPage> ListAsync(string? status, string? orderId, int page, int pageSize, CancellationToken cancellationToken)
    {
        const string Filter = "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR order_id = $2)";
        await using var batch = dataSource.CreateBatch();
        var list = new NpgsqlBatchCommand($"SELECT {SummaryColumns} FROM sagas {Filter} ORDER BY started_at DESC, saga_id LIMIT $3 OFFSET $4");
        list.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        list.Parameters.Add(new() { Value = (object?)orderId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        list.Parameters.Add(new() { Value = pageSize });
        list.Parameters.Add(new() { Value = (page - 1) * pageSize });
        var count = new NpgsqlBatchCommand($"SELECT count(*) FROM sagas {Filter}");
        count.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        count.Parameters.Add(new() { Value = (object?)orderId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        batch.BatchCommands.Add(list);
        batch.BatchCommands.Add(count);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var items = new List<SagaSummary>();
        while (await reader.ReadAsync(cancellationToken)) items.Add(ReadSummary(reader));
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new SagaPage(items, page, pageSize, reader.GetInt64(0));
    }

    /// <summary>How many sagas are in each status (every status present, zero included).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByStatusAsync(CancellationToken cancellationToken)
    {
        var counts = Enum.GetNames<SagaStatus>().ToDictionary(s => s, _ => 0L);
        await using var command = dataSource.CreateCommand("SELECT status, count(*) FROM sagas GROUP BY status");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) counts[reader.GetString(0)] = reader.GetInt64(1);
        return counts;
    }

    public async Task<SagaDetails?> GetAsync(string sagaId, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var saga = new NpgsqlBatchCommand($"SELECT {SummaryColumns}, state::text FROM sagas WHERE saga_id = $1");
        saga.Parameters.Add(new() { Value = sagaId });
        var timeline = new NpgsqlBatchCommand("SELECT step, outcome, reason, at, trace_id FROM saga_timeline WHERE saga_id = $1 ORDER BY id");
        timeline.Parameters.Add(new() { Value = sagaId });
        batch.BatchCommands.Add(saga);
        batch.BatchCommands.Add(timeline);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var summary = ReadSummary(reader);
        var state = JsonSerializer.Deserialize(reader.GetString(8), OrchestratorJson.Default.SagaState)!;
        await reader.NextResultAsync(cancellationToken);
        var entries = new List<TimelineView>();
        while (await reader.ReadAsync(cancellationToken))
            entries.Add(new TimelineView(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        return new SagaDetails(summary, StepNames.Zip(state.Steps, (name, status) => new SagaStepView(name, status.ToString())).ToList(), entries);
    }

    /// <summary>The step names of the saga definition, in order, set once at start-up.</summary>
    public IReadOnlyList<string> StepNames { get; init; } = [];

    private static SagaSummary ReadSummary(NpgsqlDataReader reader)
    {
        var started = reader.GetFieldValue<DateTimeOffset>(5);
        var updated = reader.GetFieldValue<DateTimeOffset>(6);
        var traceParent = reader.IsDBNull(7) ? null : reader.GetString(7);
        return new SagaSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), started, updated, (updated - started).TotalMilliseconds,
            traceParent is { Length: >= 35 } ? traceParent[3..35] : null);
    }
}
