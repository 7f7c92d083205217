namespace SagaAspire.Messaging;

/// <summary>What the headers of a received message say about it.</summary>
public sealed record Envelope(
    Guid MessageId,
    string MessageType,
    string SagaId,
    Guid? CausationId,
    string Topic,
    int Partition,
    long Offset);

/// <summary>
/// A message on its way out: the contract instance plus where it goes and which saga it belongs to.
/// The saga id is the Kafka key, so every message of one saga lands in one partition, in order.
/// </summary>
public sealed record OutgoingMessage(string Topic, string SagaId, object Message)
{
    /// <summary>The message's identity; a re-send of the same command keeps it, so receivers deduplicate.</summary>
    public Guid MessageId { get; init; } = Guid.CreateVersion7();

    /// <summary>The message that caused this one, if any.</summary>
    public Guid? CausationId { get; init; }

    /// <summary>
    /// W3C trace context to continue. Null takes the current activity's, which is what a request
    /// handler or message handler wants; a resend from stored state passes the saga's own.
    /// </summary>
    public string? TraceParent { get; init; }

    public string? TraceState { get; init; }
}
