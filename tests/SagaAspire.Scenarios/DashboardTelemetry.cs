using System.Net.Http.Json;
using System.Text.Json;

namespace SagaAspire.Scenarios;

/// <summary>A span as the dashboard's telemetry API returns it (OTLP/JSON).</summary>
public sealed record DashboardSpan(string Service, string TraceId, string SpanId, string? ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset Start, DateTimeOffset End)
{
    public const int Server = 2, Client = 3, Producer = 4, Consumer = 5;
}

/// <summary>The dashboard's telemetry API (<c>/api/telemetry</c>), with the key the dashboard gives for its browser token.</summary>
public sealed class DashboardTelemetry : IDisposable
{
    private readonly HttpClient _http;

    private DashboardTelemetry(HttpClient http) => _http = http;

    public static async Task<DashboardTelemetry> ConnectAsync(Uri login, CancellationToken cancellationToken)
    {
        var http = new HttpClient { BaseAddress = new Uri(login.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(30) };
        var token = System.Web.HttpUtility.ParseQueryString(login.Query)["t"];
        using var exchange = await http.PostAsJsonAsync("/api/telemetry/validateToken", new { token }, cancellationToken);
        exchange.EnsureSuccessStatusCode();
        var key = (await exchange.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("apiKey").GetString();
        http.DefaultRequestHeaders.Add("x-api-key", key);
        return new DashboardTelemetry(http);
    }

    /// <summary>The spans of a trace the dashboard holds now; empty while it knows none.</summary>
    public Task<List<DashboardSpan>> TraceAsync(string traceId) => SpansAsync($"/api/telemetry/traces/{traceId}");

    /// <summary>The spans of the <paramref name="limit"/> most recent traces the dashboard holds now.</summary>
    public Task<List<DashboardSpan>> RecentTracesAsync(int limit) => SpansAsync($"/api/telemetry/traces?limit={limit}");

    /// <summary>How many spans the dashboard holds now, of every trace.</summary>
    public async Task<long> SpanCountAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.GetAsync("/api/telemetry/spans?limit=1", cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("totalCount").GetInt64();
    }

    private async Task<List<DashboardSpan>> SpansAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var spans = new List<DashboardSpan>();
        foreach (var resource in answer.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = Attributes(resource.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                    spans.Add(new DashboardSpan(service, span.GetProperty("traceId").GetString()!, span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) && parent.GetString() is { Length: > 0 } p ? p : null,
                        span.GetProperty("name").GetString()!, span.GetProperty("kind").GetInt32(), Attributes(span),
                        Time(span, "startTimeUnixNano"), Time(span, "endTimeUnixNano")));
        }
        return spans;
    }

    /// <summary>Waits until the trace holds a span that <paramref name="last"/> accepts, then a moment for the other processes' last batches.</summary>
    public async Task<List<DashboardSpan>> WaitForTraceAsync(string traceId, Func<DashboardSpan, bool> last, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        List<DashboardSpan> spans = [];
        while (DateTime.UtcNow < deadline)
        {
            spans = await TraceAsync(traceId);
            if (spans.Any(last))
            {
                await Task.Delay(2000);
                return await TraceAsync(traceId);
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"Trace {traceId} holds {spans.Count} spans in the dashboard, not yet the last: " +
            string.Join(", ", spans.Select(s => $"{s.Service}/{s.Name}")));
    }

    /// <summary>When the span started or ended: OTLP/JSON gives nanoseconds since the epoch, as a string.</summary>
    private static DateTimeOffset Time(JsonElement span, string property) =>
        DateTimeOffset.UnixEpoch.AddTicks(long.Parse(span.GetProperty(property).ToString(), System.Globalization.CultureInfo.InvariantCulture) / 100);

    private static Dictionary<string, string> Attributes(JsonElement element)
    {
        var attributes = new Dictionary<string, string>();
        if (element.TryGetProperty("attributes", out var list))
            foreach (var attribute in list.EnumerateArray())
                attributes[attribute.GetProperty("key").GetString()!] = attribute.GetProperty("value").EnumerateObject().First().Value.ToString();
        return attributes;
    }

    public void Dispose() => _http.Dispose();
}
