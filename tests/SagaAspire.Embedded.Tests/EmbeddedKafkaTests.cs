using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using SagaAspire.Embedded;

namespace SagaAspire.Embedded.Tests;

public sealed class embedded_kafka : IDisposable
{
    private readonly EmbeddedKafka _kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Partitions = 3, Topics = ["greetings"] });

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public void reports_a_loopback_bootstrap_address()
    {
        _kafka.BootstrapServers.ShouldStartWith("127.0.0.1:");
    }

    [Fact]
    public async Task round_trips_keys_and_headers_across_partitions_to_two_consumer_groups()
    {
        var sent = Enumerable.Range(0, 30).Select(i => (Key: $"saga-{i % 7}", Value: $"message {i}", Trace: $"trace-{i}")).ToList();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               {
                   BootstrapServers = _kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All,
               }).Build())
        {
            foreach (var (key, value, trace) in sent)
            {
                var headers = new Headers { { "traceparent", Encoding.UTF8.GetBytes(trace) } };
                await producer.ProduceAsync("greetings", new Message<string, string> { Key = key, Value = value, Headers = headers });
            }
        }

        var first = Consume("group-a", sent.Count);
        var second = Consume("group-b", sent.Count);

        foreach (var received in new[] { first, second })
        {
            received.Select(r => (r.Message.Key, r.Message.Value, Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes("traceparent"))))
                .OrderBy(r => r.Value, StringComparer.Ordinal)
                .ShouldBe(sent.OrderBy(s => s.Value, StringComparer.Ordinal));
            received.Select(r => r.Partition.Value).Distinct().Count().ShouldBeGreaterThan(1, "keys spread over several partitions");
            foreach (var byKey in received.GroupBy(r => r.Message.Key))
            {
                byKey.Select(r => r.Partition.Value).Distinct().Count().ShouldBe(1, "one key stays in one partition");
                byKey.Select(r => r.Message.Value).ShouldBe(sent.Where(s => s.Key == byKey.Key).Select(s => s.Value), "order within a key");
            }
        }
    }

    [Fact]
    public void a_committed_offset_survives_a_new_consumer_in_the_same_group()
    {
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < 4; i++) producer.Produce("greetings", new Message<string, string> { Key = "k", Value = $"v{i}" });
            producer.Flush(TimeSpan.FromSeconds(10));
        }

        Consume("resuming", 2, commit: true).Select(r => r.Message.Value).ShouldBe(["v0", "v1"]);
        Consume("resuming", 2).Select(r => r.Message.Value).ShouldBe(["v2", "v3"]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(150)]
    [InlineData(292)]
    [InlineData(299)]
    public void a_consumer_reads_from_any_offset_of_a_log_of_many_message_sets(long offset)
    {
        // Each flush is a produce request of its own, so the log holds 100 message sets of 3.
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, LingerMs = 0 }).Build())
        {
            for (var set = 0; set < 100; set++)
            {
                for (var i = 0; i < 3; i++)
                    producer.Produce(new TopicPartition("greetings", 1), new Message<string, string> { Key = "k", Value = $"v{set * 3 + i}" });
                producer.Flush(TimeSpan.FromSeconds(10));
            }
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers, GroupId = $"from-{offset}", EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset("greetings", 1, offset));
        var values = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (values.Count < 300 - offset && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result) values.Add(result.Message.Value);
        consumer.Consume(TimeSpan.FromMilliseconds(500)).ShouldBeNull("nothing lies beyond the log end");

        values.ShouldBe(Enumerable.Range((int)offset, 300 - (int)offset).Select(n => $"v{n}"));
    }

    [Fact]
    public void a_fetch_waiting_for_data_is_answered_with_the_message_when_it_arrives_not_when_its_wait_runs_out()
    {
        // The consumer's own log of each fetch answer for the partition ("MessageSet size N").
        var answers = new ConcurrentQueue<string>();
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
            {
                BootstrapServers = _kafka.BootstrapServers, GroupId = "waiting", EnableAutoCommit = false,
                FetchWaitMaxMs = 25_000, SocketTimeoutMs = 60_000, Debug = "msg",
            })
            .SetLogHandler((_, m) => { if (m.Message.Contains("greetings [2] MessageSet size", StringComparison.Ordinal)) answers.Enqueue(m.Message); })
            .Build();
        consumer.Assign(new TopicPartitionOffset("greetings", 2, Offset.Beginning));
        consumer.Consume(TimeSpan.FromSeconds(2)).ShouldBeNull("the partition is empty: its fetch now waits at the broker");

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            producer.Produce(new TopicPartition("greetings", 2), new Message<string, string> { Key = "k", Value = "hello" });
            producer.Flush(TimeSpan.FromSeconds(10)).ShouldBe(0);
        }

        // A broker that held the fetch for its whole wait would answer some 20 s from now.
        var result = consumer.Consume(TimeSpan.FromSeconds(15));
        result.ShouldNotBeNull("the waiting fetch was answered when the message arrived");
        result.Message.Value.ShouldBe("hello");
        // ... and answered with the message, as a real broker does, not empty for the consumer to ask again.
        answers.TryPeek(out var first).ShouldBeTrue();
        first.ShouldNotContain("MessageSet size 0,");
    }

    [Fact]
    public void a_new_group_is_given_its_partitions_only_after_the_initial_rebalance_delay()
    {
        // The default (no delay) is what every other test here runs on; this one shows the setting
        // reaches the broker: with a delay of ten minutes a new group gets nothing for a while.
        using var waiting = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Topics = ["greetings"], InitialRebalanceDelay = TimeSpan.FromMinutes(10) });
        var assigned = new List<TopicPartition>();
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
            {
                BootstrapServers = waiting.BootstrapServers, GroupId = "patient", EnableAutoCommit = false,
            })
            .SetPartitionsAssignedHandler((_, partitions) => assigned.AddRange(partitions))
            .Build();
        consumer.Subscribe("greetings");
        var until = DateTime.UtcNow.AddSeconds(5); // longer than librdkafka's own default of 3 s
        while (DateTime.UtcNow < until) consumer.Consume(TimeSpan.FromMilliseconds(200));

        assigned.ShouldBeEmpty("the group is still waiting for more members to join");
        new EmbeddedKafkaOptions().InitialRebalanceDelay.ShouldBe(TimeSpan.Zero, "a development broker assigns at once");
    }

    private List<ConsumeResult<string, string>> Consume(string group, int count, bool commit = false)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers, GroupId = group, AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 500,
        }).Build();
        consumer.Subscribe("greetings");
        var received = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count < count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            received.Add(result);
            if (commit) consumer.Commit(result);
        }
        consumer.Close();
        received.Count.ShouldBe(count, $"group {group} received all messages in time");
        return received;
    }
}
