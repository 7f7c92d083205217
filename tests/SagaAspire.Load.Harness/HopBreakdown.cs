using SagaAspire.Scenarios;

namespace SagaAspire.Load;

/// <summary>
/// Where the time of a saga's hops goes, read from the spans of sampled traces in the dashboard.
/// A hop is a message from the transaction that wrote it to the commit of the transaction that
/// handled it: a <c>send</c> span (the relay publishing the outbox row) whose parent wrote the row
/// (a <c>process</c> span, or <c>POST /orders</c>), and the <c>process</c> span that is its child.
/// The parts follow one another, so they add up to the hop:
/// <list type="bullet">
/// <item><see cref="ToPublish"/>: from the writer's end (its commit) to the relay starting to publish
/// (0 when the relay began before the writer's span had closed);</item>
/// <item><see cref="ToHandler"/>: from there to the handler starting: the produce, the broker, the
/// consumer's fetch, and the wait in its partition's queue behind other messages;</item>
/// <item><see cref="Handling"/>: the process span, from the handler's start to its transaction's
/// commit; <see cref="Database"/> is the part of it in database statements (their spans).</item>
/// </list>
/// Spans the dashboard did not store leave their hops out, so under more load than it takes in
/// this is a sample of the hops, not all of them.
/// </summary>
public sealed record HopBreakdown(int Traces, int Hops, LatencySummary ToPublish, LatencySummary ToHandler, LatencySummary Handling,
    LatencySummary Database, LatencySummary Hop)
{
    public static HopBreakdown Of(IReadOnlyList<IReadOnlyCollection<DashboardSpan>> traces)
    {
        List<double> toPublish = [], toHandler = [], handling = [], database = [], hop = [];
        foreach (var trace in traces)
        {
            var byId = trace.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
            var children = trace.Where(s => s.ParentSpanId is not null).ToLookup(s => s.ParentSpanId!);
            foreach (var process in trace.Where(s => s.Kind == DashboardSpan.Consumer))
            {
                if (process.ParentSpanId is null || !byId.TryGetValue(process.ParentSpanId, out var send) || send.Kind != DashboardSpan.Producer) continue;
                if (send.ParentSpanId is null || !byId.TryGetValue(send.ParentSpanId, out var writer)) continue;
                toPublish.Add(Math.Max(0, Milliseconds(writer.End, send.Start)));
                toHandler.Add(Milliseconds(send.Start, process.Start));
                handling.Add(Milliseconds(process.Start, process.End));
                database.Add(children[process.SpanId].Where(IsStatement).Sum(s => Milliseconds(s.Start, s.End)));
                hop.Add(Milliseconds(writer.End, process.End));
            }
        }
        return new HopBreakdown(traces.Count, hop.Count, LatencySummary.Of(toPublish), LatencySummary.Of(toHandler), LatencySummary.Of(handling),
            LatencySummary.Of(database), LatencySummary.Of(hop));
    }

    private static bool IsStatement(DashboardSpan span) => span.Kind == DashboardSpan.Client && span.Attributes.ContainsKey("db.system.name");

    private static double Milliseconds(DateTimeOffset from, DateTimeOffset to) => (to - from).TotalMilliseconds;
}
