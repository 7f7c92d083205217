using System.Runtime.InteropServices;
using System.Text;

namespace SagaAspire.Embedded;

/// <summary>Topics and size of the embedded broker.</summary>
public sealed record EmbeddedKafkaOptions
{
    /// <summary>Brokers in the mock cluster.</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>Partitions of each topic created up front.</summary>
    public int Partitions { get; init; } = 4;

    /// <summary>Topics created at start; others are created on first use with the same partition count.</summary>
    public IReadOnlyList<string> Topics { get; init; } = [];

    /// <summary>
    /// How long a consumer group with no members waits for more to join before it assigns
    /// partitions (Kafka's <c>group.initial.rebalance.delay.ms</c>). Kafka and librdkafka's mock
    /// default to 3 s, which spares a fleet of replicas starting together a rebalance per replica.
    /// A development broker mostly serves one replica per service, so it assigns at once, as the
    /// sample <c>server.properties</c> shipped with Kafka does for development and testing; a
    /// group's later rebalances are not delayed either way.
    /// </summary>
    public TimeSpan InitialRebalanceDelay { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// A Kafka-protocol broker for development and tests: librdkafka's mock cluster, listening on
/// 127.0.0.1 and speaking the real protocol (metadata, produce, fetch, consumer groups, offset
/// commits), so any Kafka client in any process can use it.
/// <para>
/// It keeps everything in memory: stopping it loses every message and committed offset. It is
/// never a production broker; point <c>ConnectionStrings__kafka</c> at a real cluster for that.
/// </para>
/// </summary>
public sealed class EmbeddedKafka : IDisposable
{
    private readonly Lock _gate = new();
    private IntPtr _client;
    private IntPtr _cluster;

    private EmbeddedKafka(IntPtr client, IntPtr cluster, string bootstrapServers, EmbeddedKafkaOptions options)
    {
        _client = client;
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
        Options = options;
    }

    /// <summary>The <c>host:port</c> list a client puts in bootstrap.servers (and ConnectionStrings__kafka).</summary>
    public string BootstrapServers { get; }

    public EmbeddedKafkaOptions Options { get; }

    public static EmbeddedKafka Start(EmbeddedKafkaOptions? options = null)
    {
        options ??= new EmbeddedKafkaOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Brokers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.InitialRebalanceDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.InitialRebalanceDelay, TimeSpan.FromMilliseconds(int.MaxValue));
        LibrdKafka.EnsureLoaded();

        var error = new byte[512];
        var conf = LibrdKafka.rd_kafka_conf_new();
        // The handle only hosts the mock cluster; it never talks to a broker itself.
        Set(conf, "log_level", "3", error);
        var client = LibrdKafka.rd_kafka_new(LibrdKafka.ProducerType, conf, error, (nuint)error.Length);
        if (client == IntPtr.Zero)
        {
            LibrdKafka.rd_kafka_conf_destroy(conf); // rd_kafka_new takes the configuration only when it succeeds
            throw new EmbeddedInfrastructureException($"librdkafka could not create the mock cluster's host handle: {Text(error)}");
        }

        var cluster = LibrdKafka.rd_kafka_mock_cluster_new(client, options.Brokers);
        if (cluster == IntPtr.Zero)
        {
            LibrdKafka.rd_kafka_destroy(client);
            throw new EmbeddedInfrastructureException("librdkafka could not start its mock cluster (is another process holding the ports?)");
        }
        var bootstrap = Marshal.PtrToStringUTF8(LibrdKafka.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new EmbeddedInfrastructureException("The mock cluster reported no bootstrap address");
        LibrdKafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, (int)options.InitialRebalanceDelay.TotalMilliseconds);

        ListenerSockets.DisableNagle(bootstrap.Split(',').Select(b => int.Parse(b[(b.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList());
        var kafka = new EmbeddedKafka(client, cluster, bootstrap, options);
        foreach (var topic in options.Topics) kafka.CreateTopic(topic, options.Partitions);
        return kafka;
    }

    /// <summary>Creates <paramref name="topic"/>; an existing topic is left as it is.</summary>
    public void CreateTopic(string topic, int? partitions = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var replication = Math.Min(3, Options.Brokers);
            var result = LibrdKafka.rd_kafka_mock_topic_create(_cluster, topic, partitions ?? Options.Partitions, replication);
            const int TopicAlreadyExists = 36;
            if (result != 0 && result != TopicAlreadyExists)
                throw new InvalidOperationException($"Could not create topic '{topic}': {LibrdKafka.ErrorText(result)}");
        }
    }

    /// <summary>Takes a broker down (connections refused) or back up: fault injection for tests.</summary>
    public void SetBrokerUp(int brokerId, bool up)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var result = up ? LibrdKafka.rd_kafka_mock_broker_set_up(_cluster, brokerId) : LibrdKafka.rd_kafka_mock_broker_set_down(_cluster, brokerId);
            if (result != 0) throw new InvalidOperationException($"Broker {brokerId}: {LibrdKafka.ErrorText(result)}");
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster != IntPtr.Zero) LibrdKafka.rd_kafka_mock_cluster_destroy(_cluster);
            if (_client != IntPtr.Zero) LibrdKafka.rd_kafka_destroy(_client);
            _cluster = IntPtr.Zero;
            _client = IntPtr.Zero;
        }
    }

    private static void Set(IntPtr conf, string name, string value, byte[] error, bool optional = false)
    {
        var result = LibrdKafka.rd_kafka_conf_set(conf, name, value, error, (nuint)error.Length);
        if (result != 0 && !optional)
            throw new EmbeddedInfrastructureException($"librdkafka rejected {name}={value}: {Text(error)}");
    }

    private static string Text(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }
}
