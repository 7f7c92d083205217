using Npgsql;

namespace SagaAspire.Messaging;

/// <summary>
/// Handles one message contract, inside the transaction that also records it in the inbox. That
/// transaction may hold other messages of the same partition too (group commit), and a failure
/// rolls it back and runs the handler again: a handler's effects belong in the transaction
/// (<see cref="MessageContext.Transaction"/>, <see cref="MessageContext.Send"/>), and it leaves the
/// session as it found it (transaction-scoped locks and settings only).
/// </summary>
public interface IMessageHandler<in TMessage> where TMessage : class
{
    Task HandleAsync(TMessage message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>
/// What a handler works with: the envelope of the message, the open transaction (its state changes
/// go there) and a way to send messages, which are written to the outbox in that same transaction.
/// The transaction already holds the message's saga (an advisory lock taken with the inbox
/// record), so no other replica handles a message of the same saga until it ends.
/// </summary>
public sealed class MessageContext
{
    private readonly List<OutgoingMessage> _outgoing = [];
    private readonly List<NpgsqlBatchCommand> _writes = [];

    internal MessageContext(Envelope envelope, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Envelope = envelope;
        Connection = connection;
        Transaction = transaction;
    }

    public Envelope Envelope { get; }
    public NpgsqlConnection Connection { get; }
    public NpgsqlTransaction Transaction { get; }

    internal IReadOnlyCollection<OutgoingMessage> Outgoing => _outgoing;

    internal IReadOnlyList<NpgsqlBatchCommand> Writes => _writes;

    /// <summary>
    /// Runs <paramref name="command"/> in this transaction once the handler returns, in the round
    /// trip that writes its messages to the outbox: for the write that ends a handler, whose
    /// result it does not need (the record of what it decided). One round trip fewer per
    /// message. Should the command fail, the transaction rolls back as for any other failure.
    /// Writes run in the order given, before the messages are written.
    /// </summary>
    public void Write(NpgsqlBatchCommand command) => _writes.Add(command);

    /// <summary>
    /// Sends <paramref name="message"/> to <paramref name="topic"/> once this transaction commits.
    /// The saga id (and so the Kafka key) is the incoming message's unless given; the incoming
    /// message becomes the causation id.
    /// </summary>
    public OutgoingMessage Send(string topic, object message, string? sagaId = null, Guid? messageId = null)
    {
        var outgoing = new OutgoingMessage(topic, sagaId ?? Envelope.SagaId, message)
        {
            CausationId = Envelope.MessageId,
            MessageId = messageId ?? Guid.CreateVersion7(),
        };
        _outgoing.Add(outgoing);
        return outgoing;
    }

    /// <summary>
    /// Holds a saga (its id, the one parameter) until the transaction ends. The inbox takes it for
    /// every message before its handler runs. One saga's commands arrive in order on one
    /// partition, but two replicas can overlap for a moment in a rebalance: a participant that
    /// checks what it did for the saga and then acts is never raced by another replica handling
    /// the same saga, so a command and its compensation never both find nothing and both go ahead.
    /// </summary>
    internal const string LockSagaSql = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
}

/// <summary>
/// Thrown by a handler for a message that is well-formed but can never be processed (it breaks a
/// rule of the contract). The message goes to the dead-letter topic at once, without retries.
/// </summary>
public sealed class InvalidMessageException(string message) : Exception(message);
