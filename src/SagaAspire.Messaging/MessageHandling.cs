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

    /// <summary>
    /// True for a handler whose first use of the database is <see cref="MessageContext.ReadAsync{T}"/>:
    /// the inbox then holds the saga and records the message in that read's round trip, instead
    /// of a round trip of its own before the handler runs (one round trip, and one span, fewer
    /// per message). Such a handler touches <see cref="MessageContext.Connection"/> and
    /// <see cref="MessageContext.Transaction"/> only after its first read.
    /// </summary>
    bool ReadsFirst => false;
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
    private List<(NpgsqlBatchCommand Command, int Rows, Func<int, string> Otherwise)>? _checks;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    /// <param name="unrecorded">
    /// For a handler that reads first: the inbox's hold on the saga and record of the message
    /// (its last command), to run before the handler's first read, in its round trip.
    /// </param>
    internal MessageContext(Envelope envelope, NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<NpgsqlBatchCommand>? unrecorded = null)
    {
        Envelope = envelope;
        _connection = connection;
        _transaction = transaction;
        Unrecorded = unrecorded;
    }

    public Envelope Envelope { get; }

    public NpgsqlConnection Connection => Unrecorded is null ? _connection : throw NotRecordedYet();

    public NpgsqlTransaction Transaction => Unrecorded is null ? _transaction : throw NotRecordedYet();

    /// <summary>The inbox's commands still to run before the handler may use the database; null once they ran.</summary>
    internal IReadOnlyList<NpgsqlBatchCommand>? Unrecorded { get; private set; }

    /// <summary>
    /// Runs <paramref name="commands"/> in this transaction and lets <paramref name="read"/> read
    /// their rows (result sets in the order of the commands that return rows). A handler that
    /// reads first (<see cref="IMessageHandler{TMessage}.ReadsFirst"/>) has its first call go in
    /// the round trip that holds the saga and records the message; should the inbox know the
    /// message already, the call throws <see cref="HandledBeforeException"/>, which the handler
    /// lets through (the inbox then sends the recorded replies again, as for any redelivery).
    /// </summary>
    public async Task<T> ReadAsync<T>(IReadOnlyList<NpgsqlBatchCommand> commands, Func<NpgsqlDataReader, CancellationToken, Task<T>> read,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(_connection, _transaction);
        var record = Unrecorded?[^1];
        foreach (var command in Unrecorded ?? []) batch.BatchCommands.Add(command);
        foreach (var command in commands) batch.BatchCommands.Add(command);
        Unrecorded = null;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        // The record returns no rows: the reader has passed it to reach the first result set.
        if (record is { RecordsAffected: 0 }) throw new HandledBeforeException();
        return await read(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The inbox ran its commands on its own (the handler did not read first after all).</summary>
    internal void MarkRecorded() => Unrecorded = null;

    private static InvalidOperationException NotRecordedYet() =>
        new("This handler reads first (ReadsFirst): its first use of the database must be MessageContext.ReadAsync, which also holds the saga and records the message.");

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
    /// As <see cref="Write(NpgsqlBatchCommand)"/>, for a write whose row count is part of its
    /// meaning: should <paramref name="command"/> change other than <paramref name="rows"/> rows,
    /// the transaction rolls back, before its commit, with an <see cref="InvalidOperationException"/>
    /// whose message <paramref name="otherwise"/> makes of the count (as if the handler had run it
    /// itself and checked). The check costs no round trip.
    /// </summary>
    public void Write(NpgsqlBatchCommand command, int rows, Func<int, string> otherwise)
    {
        _writes.Add(command);
        (_checks ??= []).Add((command, rows, otherwise));
    }

    /// <summary>Throws for the first write given a row count that changed another number of rows; call once the writes ran.</summary>
    internal void CheckWrites()
    {
        foreach (var (command, rows, otherwise) in _checks ?? [])
            if (command.RecordsAffected != rows) throw new InvalidOperationException(otherwise(command.RecordsAffected));
    }

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
    /// Holds a saga (its id, <c>$4</c>) until the transaction ends, then records the message in
    /// the inbox (consumer, message id, type: <c>$1</c> to <c>$3</c>), in one statement that
    /// returns no rows and changes none when the message was recorded before. The inbox takes
    /// the saga for every message before its handler reads anything. One saga's commands arrive
    /// in order on one partition, but two replicas can overlap for a moment in a rebalance: a
    /// participant that checks what it did for the saga and then acts is never raced by another
    /// replica handling the same saga, so a command and its compensation never both find nothing
    /// and both go ahead. (The handler's reads that follow are statements of their own, each
    /// with a snapshot taken after the lock was granted; the insert's conflict check does not
    /// depend on its snapshot.)
    /// </summary>
    internal const string HoldSagaAndRecordSql = """
        INSERT INTO messaging.inbox (consumer, message_id, message_type)
        SELECT $1, $2, $3 FROM (SELECT pg_advisory_xact_lock(hashtextextended($4, 0))) AS held
        ON CONFLICT DO NOTHING
        """;
}

/// <summary>
/// Thrown by <see cref="MessageContext.ReadAsync{T}"/> when the message proves to be one the inbox
/// recorded before: the handler stops, and the inbox sends that message's recorded replies again.
/// </summary>
public sealed class HandledBeforeException() : Exception("The inbox recorded this message before; its replies are sent again instead.");

/// <summary>
/// Thrown by a handler for a message that is well-formed but can never be processed (it breaks a
/// rule of the contract). The message goes to the dead-letter topic at once, without retries.
/// </summary>
public sealed class InvalidMessageException(string message) : Exception(message);
