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
/// <param name="Traced">The share of the run's final sagas whose trace was recorded at its source (all of them unless the services sample traces).</param>
/// <param name="Sampled">Recorded traces of final sagas of the run looked up in the dashboard.</param>
/// <param name="Complete">Of those, the ones the dashboard holds whole: from <c>POST /orders</c> to the order service's processing of the outcome, every span's parent present.</param>
/// <param name="SpansPerCompleteTrace">The mean span count of the complete ones (null when none was).</param>
/// <param name="DashboardMicrosecondsPerSpan">The dashboard's CPU over the run per span it stored (null without CPU figures).</param>
/// <param name="Hops">Where the time of the hops in a larger sample of the run's traces goes.</param>
public sealed record TelemetryReport(long SpansStored, double SpansPerSaga, double Traced, int Sampled, int Complete, double? SpansPerCompleteTrace, double? DashboardMicrosecondsPerSpan,
    HopBreakdown Hops)
{
    /// <summary>Up to this many traces of the run are checked for being whole.</summary>
    public const int SampleSize = 40;

    /// <summary>Up to this many traces of the run (those checked for being whole among them) give the hops' breakdown.</summary>
    public const int HopSampleSize = 200;

    /// <summary>Whether the dashboard holds this saga's trace whole.</summary>
    public static bool IsComplete(IReadOnlyCollection<DashboardSpan> trace)
    {
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        return trace.Any(s => s.ParentSpanId is null && s.Service == "order" && s.Name.StartsWith("POST /orders", StringComparison.Ordinal))
            && trace.Any(s => s.Service == "order" && s.Name == "process orchestrator.events")
            && trace.All(s => s.ParentSpanId is null || ids.Contains(s.ParentSpanId));
    }

    /// <summary>
    /// Looks up a random sample of <paramref name="orderIds"/>' traces in the dashboard, among those
    /// recorded at their source: with the services sampling traces (<c>SagaAspire:TraceSampling</c>)
    /// a saga not chosen has no spans anywhere, and is no sign of spans dropped.
    /// </summary>
    public static async Task<TelemetryReport> CheckAsync(DashboardTelemetry dashboard, string ordersDatabase, IReadOnlyList<string> orderIds,
        long spansStored, long sagas, double? dashboardSeconds, CancellationToken cancellationToken)
    {
        var traces = new List<(string TraceId, bool Recorded)>();
        await using (var connection = new NpgsqlConnection(ordersDatabase))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT trace_id, traceparent FROM orders WHERE order_id = ANY($1) AND trace_id IS NOT NULL", connection)
            {
                Parameters = { new() { Value = orderIds.ToArray() } },
            };
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                traces.Add((reader.GetString(0), reader.IsDBNull(1) || IsRecorded(reader.GetString(1))));
        }
        var recorded = traces.Where(t => t.Recorded).Select(t => t.TraceId).ToArray();
        var sample = recorded.OrderBy(_ => Random.Shared.Next()).Take(HopSampleSize).ToArray();
        var fetched = new List<IReadOnlyCollection<DashboardSpan>>(sample.Length);
        foreach (var traceId in sample)
        {
            cancellationToken.ThrowIfCancellationRequested();
            fetched.Add(await dashboard.TraceAsync(traceId));
        }
        var complete = fetched.Take(SampleSize).Where(IsComplete).Select(t => t.Count).ToList();
        return new TelemetryReport(spansStored, sagas == 0 ? 0 : (double)spansStored / sagas,
            traces.Count == 0 ? 0 : (double)recorded.Length / traces.Count, Math.Min(SampleSize, sample.Length), complete.Count,
            complete.Count == 0 ? null : complete.Average(),
            dashboardSeconds is { } seconds && spansStored > 0 ? seconds * 1_000_000 / spansStored : null,
            HopBreakdown.Of([.. fetched.Where(t => t.Count > 0)]));
    }

    /// <summary>Whether a W3C <c>traceparent</c> (<c>00-trace-span-flags</c>) has its sampled flag set.</summary>
    public static bool IsRecorded(string traceParent) =>
        traceParent.Length >= 55
        && byte.TryParse(traceParent.AsSpan(53, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var flags)
        && (flags & 1) == 1;
}
