using SagaAspire.ServiceDefaults.Tests.Otlp;

namespace SagaAspire.ServiceDefaults.Tests;

public sealed class telemetry_export
{
    [Theory]
    [InlineData("http/protobuf")]
    [InlineData("grpc")]
    public async Task sends_http_server_spans_to_the_configured_otlp_endpoint(string protocol)
    {
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        var endpoint = protocol == "grpc" ? receiver.GrpcEndpoint : receiver.HttpEndpoint;
        var service = await MinimalService.StartAsync(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_SERVICE_NAME"] = "greeter",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test",
        });
        await using (service)
        {
            (await service.Client.GetStringAsync(new Uri("/hello/saga", UriKind.Relative))).ShouldBe("hello saga");
            (await service.Client.GetAsync(new Uri("/alive", UriKind.Relative))).EnsureSuccessStatusCode();
        } // disposing the host flushes the exporter

        var spans = await receiver.WaitForAsync(s => s.Any(x => x.Name == "GET /hello/{name}"), TimeSpan.FromSeconds(20));
        var span = spans.Single(s => s.Name == "GET /hello/{name}");
        span.ServiceName.ShouldBe("greeter");
        span.Kind.ShouldBe(SpanKind.Server);
        span.Attribute("http.request.method").ShouldBe("GET");
        span.Attribute("http.route").ShouldBe("/hello/{name}");
        span.Attribute("http.response.status_code").ShouldBe(200L);
        span.TraceId.Length.ShouldBe(32);
        spans.ShouldNotContain(s => s.Name.Contains("alive", StringComparison.Ordinal), "health probes are not traced");
    }

    [Fact]
    public async Task exports_nothing_when_no_endpoint_is_configured()
    {
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using (var service = await MinimalService.StartAsync(new Dictionary<string, string?>()))
            await service.Client.GetStringAsync(new Uri("/hello/quiet", UriKind.Relative));
        await Task.Delay(500);
        receiver.Spans.ShouldBeEmpty();
    }
}
