using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using static SagaAspire.Messaging.Tests.Polling;

namespace SagaAspire.Messaging.Tests;

/// <summary>What a service does right after it starts: its first messages, and when it says it is ready.</summary>
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

    [Fact]
    public void a_consumer_is_ready_from_its_first_assignment_on()
    {
        var handlers = new MessageHandlers();
        handlers.Add<Deposit, DepositHandler>("deposits");
        var readiness = new ConsumerReadiness(handlers);
        Status(readiness).ShouldBe(HealthStatus.Unhealthy);
        readiness.Assigned();
        Status(readiness).ShouldBe(HealthStatus.Healthy);

        Status(new ConsumerReadiness(new MessageHandlers())).ShouldBe(HealthStatus.Healthy, "a service without handlers has no consumer to wait for");
    }

    [Fact]
    public async Task a_service_reports_its_consumer_ready_once_the_group_assigned_it_partitions()
    {
        var scope = await infrastructure.NewScopeAsync("readiness");
        await using var service = await TestService.StartAsync(scope);
        var health = service.Services.GetRequiredService<HealthCheckService>();
        var deadline = DateTime.UtcNow.AddSeconds(60); // a bound, so that a broken consumer fails instead of hanging
        HealthReportEntry entry;
        while (true)
        {
            entry = (await health.CheckHealthAsync(r => r.Name == "kafka-consumer")).Entries["kafka-consumer"];
            if (entry.Status == HealthStatus.Healthy || DateTime.UtcNow > deadline) break;
            entry.Description.ShouldBe("the consumer waits for its group's first assignment");
            await Task.Delay(100);
        }
        entry.Status.ShouldBe(HealthStatus.Healthy);
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

    private static HealthStatus Status(ConsumerReadiness readiness) =>
        readiness.CheckHealthAsync(new HealthCheckContext()).GetAwaiter().GetResult().Status;
}
