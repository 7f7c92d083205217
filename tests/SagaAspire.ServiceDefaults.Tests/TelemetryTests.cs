using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
    public async Task leaves_untraced_requests_out_and_marks_server_errors()
    {
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using (var service = await MinimalService.StartAsync(Exporting(receiver)))
        {
            using var untraced = new HttpRequestMessage(HttpMethod.Get, new Uri("/hello/hidden", UriKind.Relative));
            untraced.Headers.Add(ServiceDefaultsExtensions.UntracedHeader, "1");
            (await service.Client.SendAsync(untraced)).EnsureSuccessStatusCode();
            (await service.Client.GetAsync(new Uri("/boom", UriKind.Relative))).StatusCode.ShouldBe(System.Net.HttpStatusCode.InternalServerError);
            (await service.Client.GetStringAsync(new Uri("/hello/shown", UriKind.Relative))).ShouldBe("hello shown");
        }

        var spans = await receiver.WaitForAsync(s => s.Any(x => Equals(x.Attribute("url.path"), "/hello/shown")), TimeSpan.FromSeconds(20));
        spans.ShouldNotContain(s => Equals(s.Attribute("url.path"), "/hello/hidden"), "a request marked X-Untraced is not traced");
        var failed = spans.Single(s => s.Name == "GET /boom");
        failed.Status.ShouldBe(SpanStatus.Error);
        failed.Attribute("error.type").ShouldBe("500");
        failed.Attribute("http.response.status_code").ShouldBe(500L);
    }

    [Fact]
    public async Task traces_a_database_call_outside_any_trace_not_at_all()
    {
        var spans = await SpansAfterAsync(async service =>
        {
            // As a background loop queries (the relay, a sweeper): no activity around it.
            System.Diagnostics.Activity.Current = null;
            var db = service.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
            await using var command = db.CreateCommand("SELECT 7");
            ((int)(await command.ExecuteScalarAsync())!).ShouldBe(7);
        });
        spans.ShouldNotContain(s => s.Scope == "Npgsql", "a query outside any trace, or the connection it opened, would be a trace of its own");
    }

    [Fact]
    public async Task traces_the_database_calls_of_an_untraced_request_not_at_all()
    {
        // The health endpoint is left out of the traces; its PostgreSQL check queries the database.
        var spans = await SpansAfterAsync(async service =>
            (await service.Client.GetAsync(new Uri(ServiceDefaultsExtensions.HealthPath, UriKind.Relative))).EnsureSuccessStatusCode());
        spans.ShouldNotContain(s => s.Scope == "Npgsql", "the health check's query would be a trace of one span, every time the health is probed");
    }

    /// <summary>
    /// The spans exported once <paramref name="act"/> ran against a service with the "orders"
    /// database, followed by a traced request (whose span shows the export got that far). Only
    /// this service's database spans: the tracer of every service in this process hears every
    /// Npgsql activity in it, those of tests running beside this one too.
    /// </summary>
    private static async Task<IReadOnlyList<ReceivedSpan>> SpansAfterAsync(Func<MinimalService, Task> act)
    {
        await using var postgres = await SagaAspire.Embedded.EmbeddedPostgres.StartAsync();
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using (var service = await StartWithOrdersDatabaseAsync(receiver, postgres))
        {
            await act(service);
            (await service.Client.GetStringAsync(new Uri("/hello/shown", UriKind.Relative))).ShouldBe("hello shown");
        }
        var spans = await receiver.WaitForAsync(s => s.Any(x => Equals(x.Attribute("url.path"), "/hello/shown")), TimeSpan.FromSeconds(20));
        return [.. spans.Where(s => s.Scope != "Npgsql" || Equals(s.Attribute("server.port"), (long)postgres.Port))];
    }

    [Fact]
    public async Task traces_database_calls_as_children_named_by_operation_and_database()
    {
        await using var postgres = await SagaAspire.Embedded.EmbeddedPostgres.StartAsync();
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using (var service = await StartWithOrdersDatabaseAsync(receiver, postgres,
            app => app.MapGet("/answer", async (Npgsql.NpgsqlDataSource db) =>
            {
                await using var command = db.CreateCommand("SELECT 42");
                return (int)(await command.ExecuteScalarAsync())!;
            })))
            (await service.Client.GetStringAsync(new Uri("/answer", UriKind.Relative))).ShouldBe("42");

        var spans = await receiver.WaitForAsync(s => s.Any(x => x.Name == "GET /answer") && s.Any(x => x.Kind == SpanKind.Client), TimeSpan.FromSeconds(20));
        var request = spans.Single(s => s.Name == "GET /answer");
        var children = spans.Where(s => s.TraceId == request.TraceId && s.ParentSpanId == request.SpanId).ToList();
        // Only the query: the pool's physical connection opens are left to Npgsql's metrics.
        children.Select(c => $"{c.Name} ({c.Kind}, {c.Scope})").ShouldBe(["SELECT postgres (Client, Npgsql)"]);
        var query = children.Single(c => c.Name.StartsWith("SELECT", StringComparison.Ordinal));
        query.Kind.ShouldBe(SpanKind.Client);
        query.Name.ShouldBe("SELECT postgres");
        query.ParentSpanId.ShouldBe(request.SpanId);
        query.Attribute("db.system.name").ShouldBe("postgresql");
        // Each statement is a span of its own: Npgsql's "received-first-response" event would add
        // nothing but a row for the dashboard to store with every one.
        query.Events.ShouldBeEmpty();
        // The conventions' attributes, not Npgsql's diagnostics (each a row the dashboard stores).
        query.Attributes.Keys.ShouldNotContain(k => k.StartsWith("db.npgsql.", StringComparison.Ordinal));
        query.Attribute("db.namespace").ShouldBe("postgres");
        query.Attribute("db.query.text").ShouldBe("SELECT 42");
    }

    [Fact]
    public async Task names_a_batch_after_its_first_change_else_its_first_read_leaving_out_settings_and_messaging_bookkeeping()
    {
        await using var postgres = await SagaAspire.Embedded.EmbeddedPostgres.StartAsync();
        await using var receiver = await OtlpTraceReceiver.StartAsync();
        await using (var service = await StartWithOrdersDatabaseAsync(receiver, postgres,
            app => app.MapGet("/batch", async (Npgsql.NpgsqlDataSource db) =>
            {
                await using (var create = db.CreateCommand("""
                    CREATE SCHEMA IF NOT EXISTS messaging; CREATE TABLE IF NOT EXISTS messaging.book (n int);
                    CREATE TABLE IF NOT EXISTS stock (sku text, units int); INSERT INTO stock VALUES ('a', 1)
                    """))
                    await create.ExecuteNonQueryAsync();
                await using var connection = await db.OpenConnectionAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                // As a handler's first read goes: the transaction's setting, the inbox's record, the read.
                await using var read = new Npgsql.NpgsqlBatch(connection, transaction)
                {
                    BatchCommands = { new("SET LOCAL lock_timeout = 100"), new("INSERT INTO messaging.book VALUES (1)"), new("SELECT 42") },
                };
                var answer = (int)(await read.ExecuteScalarAsync())!;
                // As a handler's closing write goes: a lock taken first, the change, the outbox's rows.
                await using var write = new Npgsql.NpgsqlBatch(connection, transaction)
                {
                    BatchCommands = { new("SELECT units FROM stock WHERE sku = 'a' FOR UPDATE"), new("UPDATE stock SET units = units - 1 WHERE sku = 'a'"), new("INSERT INTO messaging.book VALUES (2)") },
                };
                await write.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
                return answer;
            })))
            (await service.Client.GetStringAsync(new Uri("/batch", UriKind.Relative))).ShouldBe("42");

        static bool Ran(ReceivedSpan span, string statement) => span.Kind == SpanKind.Client && (span.Attribute("db.query.text") as string)?.Contains(statement, StringComparison.Ordinal) == true;
        var spans = await receiver.WaitForAsync(s => s.Any(x => Ran(x, "SELECT 42")) && s.Any(x => Ran(x, "UPDATE stock")), TimeSpan.FromSeconds(20));
        spans.Single(x => Ran(x, "SELECT 42")).Name.ShouldBe("SELECT postgres");
        spans.Single(x => Ran(x, "UPDATE stock")).Name.ShouldBe("UPDATE postgres", "a batch that changes something is named after its first change, not the lock before it");
    }

    /// <summary>A minimal service exporting to <paramref name="receiver"/>, with the "orders" database on <paramref name="postgres"/>.</summary>
    private static Task<MinimalService> StartWithOrdersDatabaseAsync(OtlpTraceReceiver receiver, SagaAspire.Embedded.EmbeddedPostgres postgres, Action<WebApplication>? map = null)
    {
        var settings = Exporting(receiver);
        settings["ConnectionStrings:orders"] = postgres.ConnectionString();
        return MinimalService.StartAsync(settings, builder => builder.AddNpgsqlDataSource("orders"), map);
    }

    private static Dictionary<string, string?> Exporting(OtlpTraceReceiver receiver) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.GrpcEndpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        ["OTEL_SERVICE_NAME"] = "greeter",
        // As the AppHost sets it for every project: a span is kept even where its parent is not.
        ["OTEL_TRACES_SAMPLER"] = "always_on",
    };

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
