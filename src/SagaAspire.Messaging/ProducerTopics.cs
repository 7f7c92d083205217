using Confluent.Kafka;

namespace SagaAspire.Messaging;

/// <summary>
/// Has a producer learn a topic's partitions before its first message to that topic. Its
/// librdkafka asked the broker about a topic it had not met only at its next scan of unknown
/// topics, once a second (its debug log: the topic created locally, the metadata request a second
/// later), so after every start the first message to each topic waited up to a second, and a
/// saga's first run took five (docs/messaging.md, "The relay"). A metadata request through an
/// admin client on the producer's own handle makes the topic known in a round trip.
/// </summary>
internal sealed class ProducerTopics(IProducer<string, byte[]> producer) : IDisposable
{
    /// <summary>How long one topic's metadata request may hold up the relay (the broker may be down).</summary>
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private readonly HashSet<string> _asked = new(StringComparer.Ordinal);
    private IAdminClient? _admin;

    public IProducer<string, byte[]> Producer => producer;

    /// <summary>
    /// Asks for the metadata of every topic among <paramref name="topics"/> not asked for before,
    /// once each: when the request fails the message still goes, after librdkafka's own scan.
    /// </summary>
    public void Learn(IEnumerable<string> topics)
    {
        foreach (var topic in topics)
        {
            if (!_asked.Add(topic)) continue;
            try
            {
                _admin ??= new DependentAdminClientBuilder(producer.Handle).Build();
                _admin.GetMetadata(topic, Timeout);
            }
            catch (KafkaException)
            {
                // Unreachable broker: the produce that follows reports what is wrong.
            }
        }
    }

    public void Dispose() => _admin?.Dispose();
}
