using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.ServiceDefaults;

namespace SagaAspire.Messaging;

/// <summary>
/// Before the relay, the consumer and the HTTP endpoints start: applies the schema migrations
/// (waiting for PostgreSQL if it is not up yet) and creates missing topics.
/// </summary>
internal sealed partial class MessagingStartup(
    NpgsqlDataSource dataSource,
    KafkaClientSettings kafka,
    IOptions<MessagingOptions> options,
    MessagingRegistrations registrations,
    MessageHandlers handlers,
    ILogger<MessagingStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await SchemaMigrator.ApplyAsync(dataSource, MessagingSchema.Component, MessagingSchema.Migrations, logger, cancellationToken).ConfigureAwait(false);
                foreach (var (component, migrations) in registrations.Migrations)
                    await SchemaMigrator.ApplyAsync(dataSource, component, migrations, logger, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (Transience.IsTransient(ex) && attempt < 60)
            {
                Log.DatabaseNotReady(logger, ex.Message, attempt);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
        await CreateTopicsAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task CreateTopicsAsync()
    {
        var topics = handlers.Topics.Concat(registrations.PublishedTopics).Distinct(StringComparer.Ordinal).ToList();
        topics.AddRange(handlers.Topics.Select(InboxConsumer.DeadLetterTopic));
        if (topics.Count == 0) return;
        using var admin = new AdminClientBuilder(kafka.CreateAdminConfig()).SetLogHandler((_, _) => { }).Build();
        try
        {
            var existing = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics
                .Where(t => !t.Error.IsError).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
            topics.RemoveAll(existing.Contains);
            if (topics.Count == 0) return;
            await admin.CreateTopicsAsync(
                topics.Select(t => new TopicSpecification { Name = t, NumPartitions = options.Value.TopicPartitions, ReplicationFactor = options.Value.TopicReplicationFactor }),
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(10), OperationTimeout = TimeSpan.FromSeconds(10) }).ConfigureAwait(false);
        }
        catch (CreateTopicsException ex)
        {
            foreach (var failed in ex.Results.Where(r => r.Error.IsError && r.Error.Code != ErrorCode.TopicAlreadyExists))
                Log.TopicNotCreated(logger, failed.Topic, failed.Error.Reason);
        }
        catch (KafkaException ex)
        {
            Log.TopicNotCreated(logger, string.Join(", ", topics), ex.Error.Reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "PostgreSQL is not ready ({Reason}); attempt {Attempt}, retrying")]
        public static partial void DatabaseNotReady(ILogger logger, string reason, int attempt);

        [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Could not create topic {Topic}: {Reason}. Create it yourself if the cluster does not auto-create topics.")]
        public static partial void TopicNotCreated(ILogger logger, string topic, string reason);
    }
}
