using Npgsql;
using SagaAspire.Scenarios;

namespace SagaAspire.Load;

/// <summary>
/// What the dashboard made of a run's telemetry: the spans it stored per saga, and how many of a
/// sample of the run's traces it holds whole. Under more load than the dashboard takes in, the
/// services' OpenTelemetry exporters drop spans (their queues are bounded, by design), and the
/// dashboard's CPU per saga then measures the spans it got, not every span.
/// </summary>
/// <param name="SpansStored">Spans the dashboard stored from the start of the load until the system settled.</param>
/// <param name="SpansPerSaga">Of those, per final saga.</param>
/// <param name="Sampled">Traces of final sagas of the run looked up in the dashboard.</param>
/// <param name="Complete">Of those, the ones the dashboard holds whole: from <c>POST /orders</c> to the order service's processing of the outcome, every span's parent present.</param>
/// <param name="SpansPerCompleteTrace">The mean span count of the complete ones (null when none was).</param>
/// <param name="DashboardMicrosecondsPerSpan">The dashboard's CPU over the run per span it stored (null without CPU figures).</param>
public sealed record TelemetryReport(long SpansStored, double SpansPerSaga, int Sampled, int Complete, double? SpansPerCompleteTrace, double? DashboardMicrosecondsPerSpan)
{
    /// <summary>Up to this many traces of the run are looked up.</summary>
    public const int SampleSize = 40;

    /// <summary>Whether the dashboard holds this saga's trace whole.</summary>
    public static bool IsComplete(IReadOnlyCollection<DashboardSpan> trace)
    {
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        return trace.Any(s => s.ParentSpanId is null && s.Service == "order" && s.Name.StartsWith("POST /orders", StringComparison.Ordinal))
            && trace.Any(s => s.Service == "order" && s.Name == "process orchestrator.events")
            && trace.All(s => s.ParentSpanId is null || ids.Contains(s.ParentSpanId));
    }

    /// <summary>Looks up a random sample of <paramref name="orderIds"/>' traces in the dashboard.</summary>
    public static async Task<TelemetryReport> CheckAsync(DashboardTelemetry dashboard, string ordersDatabase, IReadOnlyList<string> orderIds,
        long spansStored, long sagas, double? dashboardSeconds, CancellationToken cancellationToken)
    {
        var sample = orderIds.OrderBy(_ => Random.Shared.Next()).Take(SampleSize).ToArray();
        var traceIds = new List<string>();
        await using (var connection = new NpgsqlConnection(ordersDatabase))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT trace_id FROM orders WHERE order_id = ANY($1) AND trace_id IS NOT NULL", connection)
            {
                Parameters = { new() { Value = sample } },
            };
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) traceIds.Add(reader.GetString(0));
        }
        var complete = new List<int>();
        foreach (var traceId in traceIds)
        {
            var trace = await dashboard.TraceAsync(traceId);
            if (IsComplete(trace)) complete.Add(trace.Count);
        }
        return new TelemetryReport(spansStored, sagas == 0 ? 0 : (double)spansStored / sagas, traceIds.Count, complete.Count,
            complete.Count == 0 ? null : complete.Average(),
            dashboardSeconds is { } seconds && spansStored > 0 ? seconds * 1_000_000 / spansStored : null);
    }
}
