using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SagaAspire.Messaging;

/// <summary>
/// The messaging building block's spans and metrics, named after the OpenTelemetry messaging
/// semantic conventions.
/// </summary>
public static class MessagingTelemetry
{
    public const string Name = "SagaAspire.Messaging";

    public static readonly ActivitySource Source = new(Name);
    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Sent = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Messages the outbox relay published.");
    internal static readonly Counter<long> Consumed = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages handed to a handler (including duplicates skipped by the inbox).");
    internal static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram<double>(
        "messaging.process.duration", "s", "Time to process one message: inbox check, handler and commit.");
    internal static readonly Counter<long> Retried = Meter.CreateCounter<long>(
        "sagaaspire.messaging.retries", "{attempt}", "Processing attempts retried after a failure.");
    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>(
        "sagaaspire.messaging.dead_letters", "{message}", "Messages sent to a dead-letter topic.");
    internal static readonly Counter<long> Duplicates = Meter.CreateCounter<long>(
        "sagaaspire.messaging.duplicates", "{message}", "Redelivered messages the inbox recognised and skipped.");
    internal static readonly Counter<long> RepliesResent = Meter.CreateCounter<long>(
        "sagaaspire.messaging.replies.resent", "{message}", "Recorded replies put into the outbox again for a redelivered message the inbox recognised.");

    // Span attribute names (OpenTelemetry messaging conventions, plus the saga's own).
    internal const string System = "messaging.system";
    internal const string OperationType = "messaging.operation.type";
    internal const string OperationName = "messaging.operation.name";
    internal const string Destination = "messaging.destination.name";
    internal const string PartitionId = "messaging.destination.partition.id";
    internal const string Offset = "messaging.kafka.offset";
    internal const string MessageKey = "messaging.kafka.message.key";
    internal const string ConsumerGroup = "messaging.consumer.group.name";
    internal const string MessageId = "messaging.message.id";
    internal const string ConversationId = "messaging.message.conversation_id";
    internal const string BodySize = "messaging.message.body.size";
    internal const string SagaId = "saga.id";
    internal const string MessageType = "sagaaspire.message.type";
    internal const string OutboxWait = "sagaaspire.outbox.wait_ms";

    /// <summary>Starts a producer span for a publish, continuing the context stored with the outbox row.</summary>
    internal static Activity? StartPublish(string topic, string? traceParent, string? traceState) =>
        Start(ActivityKind.Producer, "publish", "send", topic, traceParent, traceState);

    /// <summary>Starts a consumer span as the child (not merely a link) of the producer's span.</summary>
    internal static Activity? StartProcess(string topic, string? traceParent, string? traceState) =>
        Start(ActivityKind.Consumer, "process", "process", topic, traceParent, traceState);

    private static Activity? Start(ActivityKind kind, string operation, string operationType, string topic, string? traceParent, string? traceState)
    {
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
        var activity = Source.StartActivity($"{operation} {topic}", kind, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(System, "kafka");
            activity.SetTag(OperationType, operationType);
            activity.SetTag(OperationName, operation);
            activity.SetTag(Destination, topic);
        }
        return activity;
    }

    internal static void RecordError(this Activity? activity, Exception exception)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag("error.type", exception.GetType().FullName);
        activity.AddException(exception);
    }
}
