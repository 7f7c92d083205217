using Microsoft.Extensions.Options;
using Npgsql;

namespace SagaAspire.Orchestrator.Sagas;

/// <summary>
/// Finds sagas whose step is overdue and lets the saga decide: re-send the same command, or give
/// up on the step and compensate. This is what recovers a saga whose messages a broker lost.
/// Replicas share the work: each overdue saga is claimed with SKIP LOCKED.
/// </summary>
internal sealed class SagaTimeouts(NpgsqlDataSource dataSource, SagaCoordinator sagas, IOptions<OrchestratorOptions> options,
    ILogger<SagaTimeouts> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.TimeoutScanInterval);
        var lastCount = DateTime.MinValue;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                while (await HandleOverdueAsync(stoppingToken) > 0) { }
                if (DateTime.UtcNow - lastCount > TimeSpan.FromSeconds(5))
                {
                    await CountInFlightAsync(stoppingToken);
                    lastCount = DateTime.UtcNow;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Data.DBConcurrencyException or TimeoutException)
            {
                OrchestratorLog.TimeoutScanFailed(logger, ex);
            }
        }
    }

    private async Task CountInFlightAsync(CancellationToken cancellationToken)
    {
        await using var count = dataSource.CreateCommand("""
            SELECT count(*) FILTER (WHERE status IN ('Running', 'Compensating')), count(*) FILTER (WHERE status = 'NeedsAttention')
            FROM sagas WHERE status IN ('Running', 'Compensating', 'NeedsAttention')
            """);
        await using var reader = await count.ExecuteReaderAsync(cancellationToken);
        if (await reader.ReadAsync(cancellationToken)) SagaCoordinator.ReportInFlight(reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Handles up to a batch of overdue sagas in one transaction; returns how many.</summary>
    internal async Task<int> HandleOverdueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var overdue = new List<string>();
        await using (var select = new NpgsqlCommand("""
            SELECT saga_id FROM sagas
            WHERE deadline_at <= now() AND status IN ('Running', 'Compensating')
            ORDER BY deadline_at LIMIT 100 FOR UPDATE SKIP LOCKED
            """, connection, transaction))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) overdue.Add(reader.GetString(0));
        }

        foreach (var sagaId in overdue)
        {
            // What a timeout re-sends belongs to the saga's trace, not to this scan.
            var decision = await sagas.ApplyAsync(transaction, sagaId,
                (state, data, now) => sagas.Definition.Timeout(state, data, now, Guid.CreateVersion7),
                causationId: null, spanInSagaTrace: "saga timeout", cancellationToken);
            if (decision is { Ignored: false }) OrchestratorLog.TimedOut(logger, sagaId, decision.Timeline[0].Step, decision.Timeline[0].Outcome);
        }
        await transaction.CommitAsync(cancellationToken);
        return overdue.Count;
    }
}
