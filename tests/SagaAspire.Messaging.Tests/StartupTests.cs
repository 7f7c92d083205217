using System.Collections.Concurrent;
using Confluent.Kafka;
using static SagaAspire.Messaging.Tests.Polling;

namespace SagaAspire.Messaging.Tests;

/// <summary>What a service does right after it starts: its first messages.</summary>
[Collection(MessagingCollection.Name)]
public sealed class StartupTests(MessagingInfrastructure infrastructure)
{
    // librdkafka's debug line when a message waits for a topic whose partitions it does not know yet.
    private const string UnknownTopic = "metadata information unknown";

    [Fact]
    public async Task a_producer_meeting_a_topic_first_waits_for_its_metadata()
    {
        // The behaviour ProducerTopics is there for: without it the first message to a topic
        // finds it unknown and waits for librdkafka's next scan of unknown topics.
        var scope = await infrastructure.NewScopeAsync("topicunknown");
        var (producer, log) = await ConnectedProducerAsync(scope);
        using (producer)
        {
            await producer.ProduceAsync(scope.Topic, new Message<string, byte[]> { Key = "k", Value = [1] });
        }
        log.ShouldContain(line => line.Contains(UnknownTopic, StringComparison.Ordinal));
    }

    [Fact]
    public async Task a_producer_told_of_a_topic_first_sends_to_it_at_once()
    {
        var scope = await infrastructure.NewScopeAsync("topicknown");
        var (producer, log) = await ConnectedProducerAsync(scope);
        using (producer)
        using (var topics = new ProducerTopics(producer))
        {
            topics.Learn([scope.Topic, scope.Topic]);
            log.Clear();
            await producer.ProduceAsync(scope.Topic, new Message<string, byte[]> { Key = "k", Value = [1] });
        }
        log.ShouldNotContain(line => line.Contains(UnknownTopic, StringComparison.Ordinal));
    }

    /// <summary>
    /// A producer that has had the broker's first answer about the cluster, as the relay's has
    /// long before its first message: a topic met before that answer rides along in it.
    /// </summary>
    private static async Task<(IProducer<string, byte[]> Producer, ConcurrentQueue<string> Log)> ConnectedProducerAsync(TestScope scope)
    {
        var log = new ConcurrentQueue<string>();
        var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = scope.BootstrapServers, Debug = "topic,metadata" })
            .SetLogHandler((_, m) => log.Enqueue(m.Message))
            .Build();
        await WaitUntilAsync(() => log.Any(line => line.Contains("Received metadata", StringComparison.Ordinal)), "the producer hears from the broker");
        return (producer, log);
    }
}
