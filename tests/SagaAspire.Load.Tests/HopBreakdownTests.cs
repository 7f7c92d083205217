using SagaAspire.Scenarios;

namespace SagaAspire.Load.Tests;

/// <summary>The load report's breakdown of a hop into its parts, from a trace's spans.</summary>
public sealed class HopBreakdownTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 8, 0, 0, 0, TimeSpan.Zero);

    private static DashboardSpan Span(string service, string id, string? parent, string name, int kind, double start, double end, bool statement = false) =>
        new(service, "trace-1", id, parent, name, kind, statement ? new Dictionary<string, string> { ["db.system.name"] = "postgresql" } : [],
            T0.AddMilliseconds(start), T0.AddMilliseconds(end));

    private static readonly DashboardSpan[] Saga =
    [
        Span("order", "http", null, "POST /orders", DashboardSpan.Server, 0, 10),
        Span("order", "send-1", "http", "send orders", DashboardSpan.Producer, 10.5, 11),
        Span("orchestrator", "process-1", "send-1", "process orders", DashboardSpan.Consumer, 13, 20),
        Span("orchestrator", "select", "process-1", "SELECT orchestrator", DashboardSpan.Client, 14, 15, statement: true),
        Span("orchestrator", "update", "process-1", "UPDATE orchestrator", DashboardSpan.Client, 16, 18, statement: true),
        Span("orchestrator", "send-2", "process-1", "send inventory.commands", DashboardSpan.Producer, 19.5, 20.5),
        Span("inventory", "process-2", "send-2", "process inventory.commands", DashboardSpan.Consumer, 25, 30),
        // A hop whose send span the dashboard did not store: left out.
        Span("orchestrator", "process-3", "send-lost", "process inventory.events", DashboardSpan.Consumer, 31, 33),
    ];

    [Fact]
    public void splits_each_stored_hop_into_parts_that_add_up_to_it()
    {
        var hops = HopBreakdown.Of([Saga]);

        hops.Traces.ShouldBe(1);
        hops.Hops.ShouldBe(2);
        hops.ToPublish.Max.ShouldBe(0.5);       // 10 -> 10.5; the second relay began before its writer's span closed: 0
        hops.ToPublish.P50.ShouldBe(0);
        hops.ToHandler.P50.ShouldBe(2.5);       // 10.5 -> 13
        hops.ToHandler.Max.ShouldBe(5.5);       // 19.5 -> 25
        hops.Handling.P50.ShouldBe(5);          // 25 -> 30
        hops.Handling.Max.ShouldBe(7);          // 13 -> 20
        hops.Database.Max.ShouldBe(3);          // SELECT 1 + UPDATE 2; the other handler's statements were not stored
        hops.Hop.P50.ShouldBe(10);              // 20 -> 30
        hops.Hop.Max.ShouldBe(10);              // 10 -> 20
    }

    [Fact]
    public void a_trace_without_hops_gives_none() =>
        HopBreakdown.Of([[Saga[0]]]).Hops.ShouldBe(0);
}
