using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>Each saga is one trace in the Aspire dashboard, read back through its telemetry API.</summary>
[Collection(AppHostCollection.Name)]
public sealed class one_trace_per_saga_in_the_dashboard(AppHostFixture system, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task follows_an_order_from_its_request_through_every_service_to_its_outcome()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-dashboard-trace"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!)).GetProperty("status").GetString().ShouldBe("Approved");

        var trace = await system.Dashboard.WaitForTraceAsync(accepted.GetProperty("traceId").GetString()!, OutcomeProcessed);
        WriteCatalogue(trace);

        AppHostFixture.Services.ShouldAllBe(service => trace.Any(s => s.Service == service), "every service took part in the one trace");
        var root = trace.Single(s => s.ParentSpanId is null);
        // Named by ASP.NET Core's instrumentation from the route as the framework reports it: the
        // group "/orders" with its endpoint "/" is the route "/orders/" (http.route says the same).
        (root.Service, root.Kind, root.Name).ShouldBe(("order", DashboardSpan.Server, "POST /orders/"));
        root.Attributes.GetValueOrDefault("http.route").ShouldBe("/orders/");
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        trace.Where(s => s.ParentSpanId is not null).ShouldAllBe(s => ids.Contains(s.ParentSpanId!), "an unbroken parent chain");
        var outcome = trace.Single(s => s.Name == "send orchestrator.events");
        Ancestry(trace, outcome).Last().ShouldBe(root, "the outcome descends from the request");
        Ancestry(trace, outcome).Where(s => s.Kind == DashboardSpan.Consumer).Select(s => s.Service).Reverse()
            .ShouldBe(["orchestrator", "inventory", "orchestrator", "payment", "orchestrator", "delivery", "orchestrator", "inventory", "orchestrator"],
                "order placed, reserved, charged, delivery scheduled, committed: each a process span in the chain");
        trace.ShouldContain(s => s.Service == "order" && s.Name == "INSERT orders" && s.Kind == DashboardSpan.Client, "database work is in the trace");
    }

    [Fact]
    public async Task holds_no_trace_of_database_calls_alone()
    {
        // Each service's health check queries its database; a relay and the sweepers query theirs
        // all the time. None of it is part of a saga, so none of it may bury the sagas' traces.
        foreach (var service in AppHostFixture.Services)
            (await system.Client(service).GetAsync(new Uri("/health", UriKind.Relative))).EnsureSuccessStatusCode();
        await Task.Delay(3000); // the services export every second

        var traces = (await system.Dashboard.RecentTracesAsync(limit: 10_000)).GroupBy(s => s.TraceId).ToList();
        traces.ShouldNotBeEmpty("the dashboard holds the traces of the sagas run before");
        var alone = traces.Where(t => t.All(s => s.Attributes.ContainsKey("db.system.name"))).SelectMany(t => t).ToList();
        alone.ShouldBeEmpty($"traces of database calls alone: {string.Join(", ", alone.Select(s => $"{s.Service}/{s.Name} {s.Attributes.GetValueOrDefault("db.query.text")}"))}");
    }

    [Fact]
    public async Task holds_the_compensation_of_a_declined_payment()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "declined-dashboard-trace"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!)).GetProperty("status").GetString().ShouldBe("Rejected");

        var trace = await system.Dashboard.WaitForTraceAsync(accepted.GetProperty("traceId").GetString()!, OutcomeProcessed);

        trace.Select(s => s.Service).Distinct().Order(StringComparer.Ordinal).ToList()
            .ShouldBe(["inventory", "orchestrator", "order", "payment"], "a declined charge ends the saga before the delivery step");
        var release = trace.Single(s => s.Kind == DashboardSpan.Consumer && s.Service == "inventory"
            && s.Attributes.GetValueOrDefault("sagaaspire.message.type") == "inventory.release.v1");
        var ancestry = Ancestry(trace, release);
        ancestry.ShouldContain(s => s.Service == "payment" && s.Kind == DashboardSpan.Consumer, "the release follows the declined charge");
        ancestry.Last().ParentSpanId.ShouldBeNull("the compensation is in the saga's one trace");
        release.Attributes["saga.id"].ShouldBe(accepted.GetProperty("sagaId").GetString());
    }

    [Fact]
    public async Task holds_the_refund_then_the_release_of_a_refused_delivery()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order(SagaClient.AddressIn(SagaClient.UnservedCountry), "ABC", customerId: "c-unserved-trace"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!)).GetProperty("status").GetString().ShouldBe("Rejected");
        var sagaId = accepted.GetProperty("sagaId").GetString();

        var trace = await system.Dashboard.WaitForTraceAsync(accepted.GetProperty("traceId").GetString()!, OutcomeProcessed);

        AppHostFixture.Services.ShouldAllBe(service => trace.Any(s => s.Service == service), "every service took part in the one trace");
        DashboardSpan Processed(string service, string messageType) => trace.Single(s => s.Kind == DashboardSpan.Consumer && s.Service == service
            && s.Attributes.GetValueOrDefault("sagaaspire.message.type") == messageType);
        var schedule = Processed("delivery", "delivery.schedule.v1");
        var refund = Processed("payment", "payment.refund.v1");
        var release = Processed("inventory", "inventory.release.v1");
        (refund.Name, release.Name).ShouldBe(("process payments.commands", "process inventory.commands"));
        trace.ShouldNotContain(s => s.Attributes.GetValueOrDefault("sagaaspire.message.type") == "delivery.cancel.v1", "the refused step itself is not compensated");
        trace.ShouldNotContain(s => s.Attributes.GetValueOrDefault("sagaaspire.message.type") == "inventory.commit.v1", "the stock is never committed");

        schedule.Start.ShouldBeLessThan(refund.Start, "the refund follows the refusal");
        refund.Start.ShouldBeLessThan(release.Start, "compensation in reverse order: the refund, then the release");
        var refundAncestry = Ancestry(trace, refund);
        refundAncestry.ShouldContain(schedule, "the refund follows the refused delivery");
        var releaseAncestry = Ancestry(trace, release);
        releaseAncestry.ShouldContain(refund, "the release follows the refund");
        releaseAncestry.Last().ParentSpanId.ShouldBeNull("the compensation is in the saga's one trace");
        releaseAncestry.Where(s => s.Kind == DashboardSpan.Consumer).Select(s => s.Service).Reverse()
            .ShouldBe(["orchestrator", "inventory", "orchestrator", "payment", "orchestrator", "delivery", "orchestrator", "payment", "orchestrator", "inventory"],
                "placed, reserved, charged, refused, refunded, released");
        foreach (var span in new[] { schedule, refund, release }) span.Attributes["saga.id"].ShouldBe(sagaId);
    }

    /// <summary>
    /// Each kind of span in the trace, with its attribute names, in the test's output: what to
    /// compare before and after a change to the telemetry.
    /// </summary>
    private void WriteCatalogue(List<DashboardSpan> trace)
    {
        foreach (var kind in trace.GroupBy(s => (s.Service, s.Kind, s.Name, Attributes: string.Join(' ', s.Attributes.Keys.Order(StringComparer.Ordinal))))
                     .OrderBy(g => g.Key.Service, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal))
            output.WriteLine($"{kind.Count(),2} {kind.Key.Service,-12} {kind.Key.Kind} {kind.Key.Name,-28} {kind.Key.Attributes}");
    }

    /// <summary>The saga's last hop: the order service processing its outcome.</summary>
    private static bool OutcomeProcessed(DashboardSpan span) =>
        span.Service == "order" && span.Kind == DashboardSpan.Consumer && span.Name == "process orchestrator.events";

    /// <summary>The span, its parent, its parent's parent, ... up to the root.</summary>
    internal static List<DashboardSpan> Ancestry(List<DashboardSpan> trace, DashboardSpan span)
    {
        var byId = trace.ToDictionary(s => s.SpanId);
        var chain = new List<DashboardSpan> { span };
        while (chain[^1].ParentSpanId is { } parent && byId.TryGetValue(parent, out var next)) chain.Add(next);
        return chain;
    }
}
