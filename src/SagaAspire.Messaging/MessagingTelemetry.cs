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

    // Durations in seconds, with buckets from 5 ms to 10 s (the SDK's default buckets suit milliseconds).
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    // The OpenTelemetry messaging conventions' current metrics.
    internal static readonly Counter<long> Sent = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Messages the outbox relay published.");
    internal static readonly Counter<long> Consumed = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages handed to a handler (including duplicates skipped by the inbox).");
    internal static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        "messaging.process.duration", "s", "Time to process one message: inbox check, handler and commit.", advice: Seconds);

    // Beside them, the names Aspire's Kafka integration reports (Aspire.Confluent.Kafka, through
    // the OpenTelemetry Confluent.Kafka instrumentation), so a dashboard built for it works here.
    internal static readonly Histogram<double> PublishDuration = Meter.CreateHistogram(
        "messaging.publish.duration", "s", "Time from handing a message to the producer to the broker's acknowledgement.", advice: Seconds);
    internal static readonly Counter<long> PublishMessages = Meter.CreateCounter<long>(
        "messaging.publish.messages", "{message}", "Messages handed to the producer, acknowledged or not.");
    internal static readonly Histogram<double> ReceiveDuration = Meter.CreateHistogram(
        "messaging.receive.duration", "s", "Time of a consumer poll that returned a message.", advice: Seconds);
    internal static readonly Counter<long> ReceiveMessages = Meter.CreateCounter<long>(
        "messaging.receive.messages", "{message}", "Messages the consumer received from the broker.");

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
    internal const string ServerAddress = "server.address";
    internal const string ServerPort = "server.port";
    internal const string ErrorType = "error.type";
    internal const string ConsumerGroup = "messaging.consumer.group.name";
    internal const string MessageId = "messaging.message.id";
    internal const string ConversationId = "messaging.message.conversation_id";
    internal const string BodySize = "messaging.message.body.size";
    internal const string SagaId = "saga.id";
    internal const string MessageType = "sagaaspire.message.type";
    internal const string OutboxWait = "sagaaspire.outbox.wait_ms";

    /// <summary>
    /// Starts a producer span for a publish (Kafka's operation "send"), continuing the context
    /// stored with the outbox row.
    /// </summary>
    internal static Activity? StartSend(string topic, string? traceParent, string? traceState, (string Host, int? Port) server) =>
        Start(ActivityKind.Producer, "send", "send", topic, traceParent, traceState, server);

    /// <summary>Starts a consumer span as the child (not merely a link) of the producer's span.</summary>
    internal static Activity? StartProcess(string topic, string? traceParent, string? traceState, (string Host, int? Port) server) =>
        Start(ActivityKind.Consumer, "process", "process", topic, traceParent, traceState, server);

    private static Activity? Start(ActivityKind kind, string operation, string operationType, string topic,
        string? traceParent, string? traceState, (string Host, int? Port) server)
    {
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
        // Named "{operation} {destination}", as the conventions have it.
        var activity = Source.StartActivity($"{operation} {topic}", kind, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(System, "kafka");
            activity.SetTag(OperationType, operationType);
            activity.SetTag(OperationName, operation);
            activity.SetTag(Destination, topic);
            activity.SetTag(ServerAddress, server.Host);
            if (server.Port is { } port) activity.SetTag(ServerPort, port);
        }
        return activity;
    }

    internal static void RecordError(this Activity? activity, Exception exception)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag(ErrorType, exception.GetType().FullName);
        activity.AddException(exception);
    }
}
