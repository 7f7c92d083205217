using Confluent.Kafka;
using Microsoft.Extensions.Configuration;

namespace SagaAspire.ServiceDefaults;

/// <summary>
/// How a service reaches Kafka: the bootstrap servers from <c>ConnectionStrings:kafka</c>, plus any
/// librdkafka properties under <c>Kafka:Client</c> (security.protocol, sasl.*, ssl.*, ...), so that
/// security settings come from configuration, never from code.
/// </summary>
public sealed class KafkaClientSettings
{
    public const string ClientSection = "Kafka:Client";

    public KafkaClientSettings(string bootstrapServers, IReadOnlyDictionary<string, string> properties)
    {
        BootstrapServers = bootstrapServers;
        Properties = properties;
    }

    public string BootstrapServers { get; }

    /// <summary>Extra librdkafka properties applied to every client this service creates.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; }

    public static KafkaClientSettings FromConfiguration(IConfiguration configuration, string connectionName = "kafka")
    {
        var servers = ConnectionStrings.GetKafkaBootstrapServers(configuration, connectionName);
        var properties = configuration.GetSection(ClientSection).GetChildren()
            .Where(p => p.Value is not null)
            .ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
        return new KafkaClientSettings(servers, properties);
    }

    public ProducerConfig CreateProducerConfig() => Apply(new ProducerConfig());

    public ConsumerConfig CreateConsumerConfig(string groupId) => Apply(new ConsumerConfig { GroupId = groupId });

    public AdminClientConfig CreateAdminConfig() => Apply(new AdminClientConfig());

    private T Apply<T>(T config) where T : ClientConfig
    {
        foreach (var (key, value) in Properties) config.Set(key, value);
        config.BootstrapServers = BootstrapServers;
        return config;
    }
}
