using SagaAspire.Embedded;

namespace SagaAspire.Messaging.Tests;

/// <summary>One PostgreSQL server and one Kafka-protocol broker for every messaging test; each test owns its database, topic and group.</summary>
public sealed class MessagingInfrastructure : IAsyncLifetime
{
    public EmbeddedPostgres Postgres { get; private set; } = null!;
    public EmbeddedKafka Kafka { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await EmbeddedPostgres.StartAsync();
        Kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Partitions = 4 });
    }

    public async Task DisposeAsync()
    {
        Kafka.Dispose();
        await Postgres.DisposeAsync();
    }

    /// <summary>A fresh database and topic (with its dead-letter and receipt topics) for one test.</summary>
    public async Task<TestScope> NewScopeAsync(string name)
    {
        var id = $"{name}_{Guid.NewGuid():N}"[..Math.Min(40, name.Length + 33)].ToLowerInvariant();
        await Postgres.CreateDatabaseAsync(id);
        var topic = $"{id}.events";
        Kafka.CreateTopic(topic);
        Kafka.CreateTopic(topic + ".dlq");
        Kafka.CreateTopic(topic + ".receipts");
        return new TestScope(id, topic, Postgres.ConnectionString(id), Kafka.BootstrapServers);
    }
}

public sealed record TestScope(string Database, string Topic, string ConnectionString, string BootstrapServers)
{
    public string DeadLetterTopic => Topic + ".dlq";

    /// <summary>Where deposits that ask for a receipt get it; nothing in the test service consumes it.</summary>
    public string ReceiptTopic => Topic + ".receipts";
}

[CollectionDefinition(Name)]
public sealed class MessagingCollection : ICollectionFixture<MessagingInfrastructure>
{
    public const string Name = "messaging";
}
