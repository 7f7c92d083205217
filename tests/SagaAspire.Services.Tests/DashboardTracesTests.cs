using System.Text.Json;
using SagaAspire.Orchestrator.Explorer;

namespace SagaAspire.Services.Tests;

/// <summary>The Saga Explorer's reading of a trace from the Aspire dashboard's telemetry API (OTLP/JSON, as the dashboard writes it).</summary>
public sealed class a_trace_from_the_dashboard
{
    // The shape GET /api/telemetry/traces/{traceId} answers with: kinds as numbers, times as
    // nanosecond strings, every attribute value a stringValue.
    private const string Answer = """
        {"data":{"resourceSpans":[
          {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"order"}}]},
           "scopeSpans":[{"scope":{"name":"Microsoft.AspNetCore"},"spans":[
             {"traceId":"e226cd5d43ed149311a3e68bac2d3fdb","spanId":"a000000000000001","name":"POST /orders","kind":2,
              "startTimeUnixNano":"1796159499996000000","endTimeUnixNano":"1796159500166000000",
              "attributes":[{"key":"http.route","value":{"stringValue":"/orders"}}]}]},
            {"scope":{"name":"SagaAspire.Messaging"},"spans":[
             {"traceId":"e226cd5d43ed149311a3e68bac2d3fdb","spanId":"a000000000000002","parentSpanId":"a000000000000001","name":"send orders","kind":4,
              "startTimeUnixNano":"1796159500006000000","endTimeUnixNano":"1796159500016000000"}]}]},
          {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payment"}}]},
           "scopeSpans":[{"scope":{"name":"SagaAspire.Messaging"},"spans":[
             {"traceId":"e226cd5d43ed149311a3e68bac2d3fdb","spanId":"a000000000000003","parentSpanId":"a000000000000002","name":"process payments.commands","kind":5,
              "startTimeUnixNano":"1796159500026000000","endTimeUnixNano":"1796159500027500000","status":{"code":2},
              "attributes":[{"key":"saga.id","value":{"stringValue":"s-1"}},{"key":"messaging.kafka.offset","value":{"intValue":"7"}}]},
             {"traceId":"e226cd5d43ed149311a3e68bac2d3fdb","spanId":"a000000000000004","parentSpanId":"ffffffffffffffff","name":"late span","kind":1,
              "startTimeUnixNano":"1796159500030000000","endTimeUnixNano":"1796159500031000000"}]}]}
        ]},"totalCount":4,"returnedCount":4}
        """;

    private static List<WaterfallSpan> Waterfall(string json)
    {
        using var document = JsonDocument.Parse(json);
        return DashboardTraces.Waterfall(document.RootElement);
    }

    [Fact]
    public void lays_its_spans_out_in_start_order_with_their_depth_service_and_kind()
    {
        var spans = Waterfall(Answer);

        spans.Select(s => (s.Service, s.Name, s.Kind, s.Depth)).ShouldBe(
        [
            ("order", "POST /orders", "Server", 0),
            ("order", "send orders", "Producer", 1),
            ("payment", "process payments.commands", "Consumer", 2),
            ("payment", "late span", "Internal", 0),
        ]);
        spans[0].ParentSpanId.ShouldBeNull();
        spans[2].ParentSpanId.ShouldBe("a000000000000002");
    }

    [Fact]
    public void measures_offsets_and_durations_from_the_first_start_in_milliseconds()
    {
        var spans = Waterfall(Answer);

        spans.Select(s => s.OffsetMs).ShouldBe([0, 10, 30, 34]);
        spans.Select(s => s.DurationMs).ShouldBe([170, 10, 1.5, 1]);
        spans[0].Start.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1796159499996));
    }

    [Fact]
    public void keeps_statuses_and_attributes_whatever_their_value_type()
    {
        var consumer = Waterfall(Answer).Single(s => s.Kind == "Consumer");

        consumer.Status.ShouldBe("Error");
        consumer.Attributes["saga.id"].ShouldBe("s-1");
        consumer.Attributes["messaging.kafka.offset"].ShouldBe("7");
        Waterfall(Answer)[0].Status.ShouldBe("Unset");
    }

    [Theory]
    [InlineData("""{"data":{"resourceSpans":[]},"totalCount":0,"returnedCount":0}""")]
    [InlineData("{}")]
    public void an_answer_without_spans_is_an_empty_trace(string json) => Waterfall(json).ShouldBeEmpty();
}
