namespace SagaAspire.Messaging;

/// <summary>Settings of a service's messaging, bound from the <c>Messaging</c> configuration section.</summary>
public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    /// <summary>The Kafka consumer group and inbox consumer name; defaults to the service name.</summary>
    public string ConsumerGroup { get; set; } = "";

    /// <summary>Attempts at a handler that keeps failing (not transiently) before its message is dead-lettered.</summary>
    public int MaxHandlerAttempts { get; set; } = 5;

    /// <summary>Longest pause between retries of a failing message.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether this replica takes part in publishing the outbox (one leader publishes at a time).</summary>
    public bool RelayEnabled { get; set; } = true;

    /// <summary>Rows the relay publishes per round trip.</summary>
    public int RelayBatchSize { get; set; } = 5000;

    /// <summary>
    /// Whether writers in the leading relay's own process hand it the rows they have just
    /// committed, which it publishes without reading them back (a database transaction fewer per
    /// commit). False: the relay reads every row from the table, in id order, which also orders
    /// the rows of one key that different replicas commit within moments of each other
    /// (docs/messaging.md, "The relay").
    /// </summary>
    public bool RelayHandOver { get; set; } = true;

    /// <summary>How often the relay reads the table when nothing else makes it (a fallback only).</summary>
    public TimeSpan RelayPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Rows the relay deletes before it vacuums the outbox itself (0: never, leaving it to
    /// autovacuum). A queue table is mostly dead rows between two vacuums, and autovacuum visits
    /// each database only once a minute by default: the relay's reads would step over all of
    /// them (docs/messaging.md, "The outbox as a queue").
    /// </summary>
    public int RelayVacuumAfter { get; set; } = 2000;

    /// <summary>How long a relay replica waits before it checks again whether it should lead.</summary>
    public TimeSpan RelayStandbyInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Most messages of one partition handled in one transaction, when that many are waiting
    /// already (group commit). 1 gives every message a transaction of its own: right for handlers
    /// that lock rows shared between sagas, whose locks a longer transaction would hold longer.
    /// </summary>
    public int ConsumerBatchSize { get; set; } = 32;

    /// <summary>
    /// Most shared transactions (see <see cref="ConsumerBatchSize"/>) a service runs at once. Each
    /// takes every run the partitions have ready when it starts; more than one keeps a message's
    /// round trips from holding up all the others. 1 for handlers whose transactions would contend
    /// for rows that every saga shares.
    /// </summary>
    public int SharedTransactions { get; set; } = 4;

    /// <summary>
    /// Longest a transaction shared by several messages waits for a lock before it rolls back and
    /// its messages are processed one at a time (where lock waits are not limited): it breaks a
    /// deadlock between replicas' shared transactions sooner than PostgreSQL's detection would.
    /// </summary>
    public TimeSpan SharedLockTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Messages queued per partition before its fetching is paused.</summary>
    public int PartitionBacklog { get; set; } = 1000;

    /// <summary>How long processed message ids are kept in the inbox.</summary>
    public TimeSpan InboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Partitions of topics this service creates when they are missing.</summary>
    public int TopicPartitions { get; set; } = 4;

    /// <summary>Replication factor of topics this service creates; -1 takes the broker's default.</summary>
    public short TopicReplicationFactor { get; set; } = -1;

    /// <summary>Consumer session timeout: how long a dead replica holds its partitions.</summary>
    public int SessionTimeoutMs { get; set; } = 10_000;
}
