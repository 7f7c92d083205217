using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SagaAspire.ServiceDefaults.Tests.Otlp;

/// <summary>
/// Receives OTLP traces over http/protobuf (<c>POST /v1/traces</c>) and gRPC
/// (<c>TraceService/Export</c>, HTTP/2 without TLS) on loopback and keeps the most recent spans in
/// memory, so a test can see what a service exports over each protocol. Metrics and logs are
/// accepted and dropped, so exporters never see errors. (The end-to-end tests read spans from
/// the Aspire dashboard instead; this stays small so these tests need neither it nor a collector.)
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private const string GrpcTracePath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly int _capacity;
    private WebApplication? _app;

    private OtlpTraceReceiver(int capacity) => _capacity = capacity;

    /// <summary>Base address for <c>OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf</c>.</summary>
    public Uri HttpEndpoint { get; private set; } = null!;

    /// <summary>Address for <c>OTEL_EXPORTER_OTLP_PROTOCOL=grpc</c>.</summary>
    public Uri GrpcEndpoint { get; private set; } = null!;

    /// <summary>Raised for every batch received (from the request thread).</summary>
    public event Action<IReadOnlyList<ReceivedSpan>>? Received;

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public static async Task<OtlpTraceReceiver> StartAsync(int httpPort = 0, int grpcPort = 0, int capacity = 200_000, CancellationToken cancellationToken = default)
    {
        var receiver = new OtlpTraceReceiver(capacity);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            kestrel.Listen(IPAddress.Loopback, httpPort, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Listen(IPAddress.Loopback, grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.MapPost("/v1/traces", receiver.ReceiveHttpAsync);
        app.MapPost("/v1/metrics", Accept);
        app.MapPost("/v1/logs", Accept);
        app.MapPost(GrpcTracePath, receiver.ReceiveGrpcAsync);
        app.MapPost("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", AcceptGrpc);
        app.MapPost("/opentelemetry.proto.collector.logs.v1.LogsService/Export", AcceptGrpc);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Urls.Select(u => new Uri(u)).ToList();
        receiver.HttpEndpoint = addresses[0];
        receiver.GrpcEndpoint = addresses[1];
        receiver._app = app;
        return receiver;
    }

    /// <summary>Waits until the received spans satisfy <paramref name="condition"/>, or times out with what arrived.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var spans = Spans;
            if (condition(spans)) return spans;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"After {timeout.TotalSeconds:0}s the receiver holds {spans.Count} spans: " +
                    string.Join(", ", spans.Take(40).Select(s => $"{s.ServiceName}/{s.Name}")));
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<IResult> ReceiveHttpAsync(HttpRequest request)
    {
        if (request.ContentType?.StartsWith("application/x-protobuf", StringComparison.OrdinalIgnoreCase) != true)
            return Results.Problem("OTLP/HTTP traces must be application/x-protobuf", statusCode: StatusCodes.Status415UnsupportedMediaType);
        var body = await ReadBodyAsync(request).ConfigureAwait(false);
        return Store(body) ? Results.Bytes([], "application/x-protobuf") : Results.BadRequest();
    }

    private async Task ReceiveGrpcAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context.Request).ConfigureAwait(false);
        // A gRPC message: one compression flag byte, a 4-byte big-endian length, the protobuf.
        var ok = body.Length >= 5 && body[0] == 0
            && BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1, 4)) == body.Length - 5
            && Store(body.AsMemory(5).ToArray());
        await WriteGrpcResponseAsync(context, ok ? 0 : 3).ConfigureAwait(false);
    }

    private bool Store(byte[] body)
    {
        List<ReceivedSpan> spans;
        try
        {
            spans = OtlpTraceDecoder.Decode(body);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            return false;
        }
        foreach (var span in spans) _spans.Enqueue(span);
        while (_spans.Count > _capacity && _spans.TryDequeue(out _)) { }
        Received?.Invoke(spans);
        return true;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static IResult Accept() => Results.Bytes([], "application/x-protobuf");

    private static async Task AcceptGrpc(HttpContext context)
    {
        await context.Request.Body.CopyToAsync(Stream.Null).ConfigureAwait(false);
        await WriteGrpcResponseAsync(context, 0).ConfigureAwait(false);
    }

    private static async Task WriteGrpcResponseAsync(HttpContext context, int grpcStatus)
    {
        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (grpcStatus == 0)
            await context.Response.Body.WriteAsync(new byte[5]).ConfigureAwait(false); // an empty response message
    }
}
