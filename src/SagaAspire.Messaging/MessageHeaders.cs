using System.Text;
using Confluent.Kafka;

namespace SagaAspire.Messaging;

/// <summary>The envelope: Kafka header names every SagaAspire message carries.</summary>
public static class MessageHeaders
{
    public const string MessageId = "message-id";
    public const string MessageType = "message-type";
    public const string SagaId = "saga-id";
    public const string CausationId = "causation-id";
    public const string ContentType = "content-type";
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>Headers added to a dead letter.</summary>
    public static class DeadLetter
    {
        public const string Reason = "dlq-reason";
        public const string Error = "dlq-error";
        public const string ExceptionType = "dlq-exception-type";
        public const string OriginalTopic = "dlq-original-topic";
        public const string OriginalPartition = "dlq-original-partition";
        public const string OriginalOffset = "dlq-original-offset";
        public const string ConsumerGroup = "dlq-consumer-group";
        public const string FailedAt = "dlq-failed-at";
    }

    public const string JsonContentType = "application/json";

    /// <summary>The header's last value as text; null when absent or when its value is null.</summary>
    public static string? GetString(this Headers headers, string name) =>
        headers.TryGetLastBytes(name, out var bytes) && bytes is not null ? Encoding.UTF8.GetString(bytes) : null;

    public static void SetString(this Headers headers, string name, string? value)
    {
        headers.Remove(name);
        if (value is not null) headers.Add(name, Encoding.UTF8.GetBytes(value));
    }
}
