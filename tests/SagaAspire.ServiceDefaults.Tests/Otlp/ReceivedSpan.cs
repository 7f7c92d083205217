namespace SagaAspire.ServiceDefaults.Tests.Otlp;

/// <summary>One span as an OTLP exporter sent it, with the service that sent it.</summary>
public sealed record ReceivedSpan(
    string ServiceName,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    SpanKind Kind,
    DateTimeOffset Start,
    DateTimeOffset End,
    IReadOnlyDictionary<string, object?> Attributes,
    SpanStatus Status,
    string? StatusMessage,
    string Scope,
    IReadOnlyList<string> Events)
{
    public TimeSpan Duration => End - Start;

    public object? Attribute(string name) => Attributes.TryGetValue(name, out var value) ? value : null;
}

/// <summary>OTLP span kinds (numbering of the OTLP protocol).</summary>
public enum SpanKind
{
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// <summary>OTLP status codes.</summary>
public enum SpanStatus
{
    Unset = 0,
    Ok = 1,
    Error = 2,
}
