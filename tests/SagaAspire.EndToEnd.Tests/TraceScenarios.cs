using SagaAspire.OtlpReceiver;
using SagaAspire.Scenarios;

namespace SagaAspire.EndToEnd.Tests;

/// <summary>The spans the four processes export, collected over OTLP by the test itself.</summary>
[Collection(SagaSystemCollection.Name)]
public sealed class one_trace_per_saga(SagaSystemFixture system)
{
    private static readonly string[] Services = ["order", "orchestrator", "inventory", "payment"];

    [Fact]
    public async Task follows_an_order_from_its_request_through_every_service_to_its_outcome()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-trace"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        (await system.Saga.WaitForOutcomeAsync(orderId)).GetProperty("status").GetString().ShouldBe("Approved");

        var trace = await TraceAsync(accepted.GetProperty("traceId").GetString()!);

        Services.ShouldAllBe(service => trace.Any(s => s.ServiceName == service), "every service took part in the one trace");
        var root = trace.Single(s => s.ParentSpanId is null);
        root.ServiceName.ShouldBe("order");
        root.Kind.ShouldBe(SpanKind.Server);
        root.Name.ShouldStartWith("POST /orders");
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        trace.Where(s => s.ParentSpanId is not null).ShouldAllBe(s => ids.Contains(s.ParentSpanId!), "an unbroken parent chain");

        trace.ShouldContain(s => s.ServiceName == "order" && s.Name == "INSERT orders" && s.Kind == SpanKind.Client,
            "the order's database work is in the trace, named by the database conventions");
        var outcome = trace.Single(s => s.Name == "publish orchestrator.events");
        outcome.ServiceName.ShouldBe("orchestrator");
        Ancestry(trace, outcome).Last().ShouldBe(root, "the outcome descends from the request");
        var hops = Ancestry(trace, outcome).Where(s => s.Kind == SpanKind.Consumer).Select(s => s.ServiceName).Reverse().ToList();
        hops.ShouldBe(["orchestrator", "inventory", "orchestrator", "payment", "orchestrator", "inventory", "orchestrator"],
            "order placed, reserved, charged, committed: each a process span in the chain");
    }

    [Fact]
    public async Task shows_the_compensation_of_a_declined_payment()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "declined-trace"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        (await system.Saga.WaitForOutcomeAsync(orderId)).GetProperty("status").GetString().ShouldBe("Rejected");

        var trace = await TraceAsync(accepted.GetProperty("traceId").GetString()!);
        var release = trace.Single(s => s.Kind == SpanKind.Consumer && s.ServiceName == "inventory"
            && Equals(s.Attribute("sagaaspire.message.type"), "inventory.release.v1"));
        var ancestry = Ancestry(trace, release);
        ancestry.ShouldContain(s => s.ServiceName == "payment" && s.Kind == SpanKind.Consumer, "the release follows the declined charge");
        ancestry.Last().ParentSpanId.ShouldBeNull();
        release.Attribute("saga.id").ShouldBe(accepted.GetProperty("sagaId").GetString());
    }

    /// <summary>Waits until the saga's last hop (the order service processing its outcome) has been exported.</summary>
    private async Task<List<ReceivedSpan>> TraceAsync(string traceId)
    {
        await system.Traces.WaitForAsync(spans => spans.Any(s => s.TraceId == traceId && s.ServiceName == "order"
            && s.Kind == SpanKind.Consumer && s.Name == "process orchestrator.events"), TimeSpan.FromSeconds(30));
        await Task.Delay(1500); // spans of the same moment from the other processes' last batches
        return [.. system.Traces.Spans.Where(s => s.TraceId == traceId)];
    }

    /// <summary>The span, its parent, its parent's parent, ... up to the root.</summary>
    private static List<ReceivedSpan> Ancestry(List<ReceivedSpan> trace, ReceivedSpan span)
    {
        var byId = trace.ToDictionary(s => s.SpanId);
        var chain = new List<ReceivedSpan> { span };
        while (chain[^1].ParentSpanId is { } parent && byId.TryGetValue(parent, out var next)) chain.Add(next);
        return chain;
    }
}
