using System.Globalization;
using System.Text.Json;

namespace SagaAspire.Orchestrator.Explorer;

/// <summary>One span of a trace as the Explorer draws it: in start order, with its depth below the root.</summary>
public sealed record WaterfallSpan(string Service, string Name, string Kind, string SpanId, string? ParentSpanId, int Depth,
    double OffsetMs, double DurationMs, string Status, IReadOnlyDictionary<string, string> Attributes, DateTimeOffset Start);

/// <summary>
/// Reads a trace from the Aspire dashboard's telemetry API (<c>GET /api/telemetry/traces/{traceId}</c>),
/// whose answer is OTLP/JSON (<c>{"data": {"resourceSpans": [...]}}</c>), and lays it out as a waterfall.
/// </summary>
internal static class DashboardTraces
{
    private static readonly string[] Kinds = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"];
    private static readonly string[] Statuses = ["Unset", "Ok", "Error"];

    public static Uri TraceAddress(Uri dashboard, string traceId) => new(dashboard, $"api/telemetry/traces/{traceId}");

    /// <summary>The spans of an OTLP/JSON answer, as a waterfall; empty when it holds none.</summary>
    public static List<WaterfallSpan> Waterfall(JsonElement answer)
    {
        var spans = new List<(string Service, JsonElement Span, DateTimeOffset Start, DateTimeOffset End)>();
        if (!answer.TryGetProperty("data", out var data) || !data.TryGetProperty("resourceSpans", out var resourceSpans)) return [];
        foreach (var resource in resourceSpans.EnumerateArray())
        {
            var service = resource.TryGetProperty("resource", out var r) ? Attributes(r).GetValueOrDefault("service.name") : null;
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                    spans.Add((service ?? "unknown", span, Time(span, "startTimeUnixNano"), Time(span, "endTimeUnixNano")));
        }
        if (spans.Count == 0) return [];

        var parents = spans.ToDictionary(s => s.Span.GetProperty("spanId").GetString()!, s => Parent(s.Span));
        int Depth(string spanId)
        {
            var depth = 0;
            for (var current = spanId; parents.GetValueOrDefault(current) is { } parent && parents.ContainsKey(parent) && depth < 256; current = parent) depth++;
            return depth;
        }
        var origin = spans.Min(s => s.Start);
        return [.. spans.OrderBy(s => s.Start).Select(s =>
        {
            var spanId = s.Span.GetProperty("spanId").GetString()!;
            return new WaterfallSpan(s.Service, s.Span.GetProperty("name").GetString() ?? "", Name(Kinds, s.Span, "kind"), spanId, Parent(s.Span),
                Depth(spanId), (s.Start - origin).TotalMilliseconds, (s.End - s.Start).TotalMilliseconds,
                s.Span.TryGetProperty("status", out var status) ? Name(Statuses, status, "code") : "Unset", Attributes(s.Span), s.Start);
        })];
    }

    private static string? Parent(JsonElement span) =>
        span.TryGetProperty("parentSpanId", out var parent) && parent.GetString() is { Length: > 0 } id ? id : null;

    private static DateTimeOffset Time(JsonElement span, string property)
    {
        // Nanoseconds since the epoch, as a string (OTLP/JSON's rendering of a 64-bit integer).
        var text = span.TryGetProperty(property, out var value) ? value.ToString() : "0";
        var nanoseconds = long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        return DateTimeOffset.UnixEpoch.AddTicks(nanoseconds / 100);
    }

    private static string Name(string[] names, JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.TryGetInt32(out var index) && index >= 0 && index < names.Length ? names[index] : names[0];

    private static Dictionary<string, string> Attributes(JsonElement element)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!element.TryGetProperty("attributes", out var list)) return attributes;
        foreach (var attribute in list.EnumerateArray())
        {
            var value = attribute.GetProperty("value");
            // The dashboard renders every value as a string; other OTLP/JSON senders use typed fields.
            attributes[attribute.GetProperty("key").GetString()!] = value.EnumerateObject().FirstOrDefault() is { Value: var v } ? v.ToString() : "";
        }
        return attributes;
    }
}
