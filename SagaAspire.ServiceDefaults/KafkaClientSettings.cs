using Confluent.Kafka;
using Microsoft.Extensions.Configuration;

namespace SagaAspire.ServiceDefaults;

/// <summary>
/// How a service reaches Kafka: the bootstrap servers from <c>ConnectionStrings:kafka</c>, plus
/// librdkafka properties from configuration, so that security and tuning come from configuration,
/// never from code: <c>Kafka:Client</c> for every client (security.protocol, sasl.*, ssl.*, ...),
/// <c>Kafka:Producer</c> and <c>Kafka:Consumer</c> for one kind only.
/// </summary>
public sealed class KafkaClientSettings
{
    public const string ClientSection = "Kafka:Client";
    public const string ProducerSection = "Kafka:Producer";
    public const string ConsumerSection = "Kafka:Consumer";

    public KafkaClientSettings(string bootstrapServers, IReadOnlyDictionary<string, string> properties,
        IReadOnlyDictionary<string, string>? producerProperties = null, IReadOnlyDictionary<string, string>? consumerProperties = null)
    {
        BootstrapServers = bootstrapServers;
        Properties = properties;
        ProducerProperties = producerProperties ?? new Dictionary<string, string>();
        ConsumerProperties = consumerProperties ?? new Dictionary<string, string>();
    }

    public string BootstrapServers { get; }

    /// <summary>
    /// The server a client contacts first (the first bootstrap server), as host and port: what
    /// the messaging spans report as <c>server.address</c> and <c>server.port</c>.
    /// </summary>
    public (string Host, int? Port) FirstServer
    {
        get
        {
            var first = BootstrapServers.Split(',', 2, StringSplitOptions.TrimEntries)[0];
            return ConnectionStrings.TryParseHostPort(first, out var host, out var port) ? (host, port) : (first, null);
        }
    }

    /// <summary>Extra librdkafka properties applied to every client this service creates.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; }

    public IReadOnlyDictionary<string, string> ProducerProperties { get; }

    public IReadOnlyDictionary<string, string> ConsumerProperties { get; }

    public static KafkaClientSettings FromConfiguration(IConfiguration configuration, string connectionName = "kafka") =>
        new(ConnectionStrings.GetKafkaBootstrapServers(configuration, connectionName),
            Section(configuration, ClientSection), Section(configuration, ProducerSection), Section(configuration, ConsumerSection));

    public ProducerConfig CreateProducerConfig() => Apply(new ProducerConfig(), ProducerProperties);

    public ConsumerConfig CreateConsumerConfig(string groupId) => Apply(new ConsumerConfig { GroupId = groupId }, ConsumerProperties);

    public AdminClientConfig CreateAdminConfig() => Apply(new AdminClientConfig(), new Dictionary<string, string>());

    private T Apply<T>(T config, IReadOnlyDictionary<string, string> specific) where T : ClientConfig
    {
        foreach (var (key, value) in Properties.Concat(specific)) config.Set(key, value);
        config.BootstrapServers = BootstrapServers;
        return config;
    }

    private static Dictionary<string, string> Section(IConfiguration configuration, string name) =>
        configuration.GetSection(name).GetChildren()
            .Where(p => p.Value is not null)
            .ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
}
