using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;
using SagaAspire.Messaging;

namespace Microsoft.Extensions.Hosting;

/// <summary>Adds reliable messaging to a service.</summary>
public static class MessagingExtensions
{
    /// <summary>
    /// Registers the outbox, its relay, the inbox consumer and dead letters for a service whose
    /// database is <c>ConnectionStrings:&lt;databaseName&gt;</c> and whose broker is
    /// <c>ConnectionStrings:kafka</c>. The consumer group defaults to <paramref name="serviceName"/>.
    /// </summary>
    public static MessagingBuilder AddMessaging(this IHostApplicationBuilder builder, string serviceName, string databaseName)
    {
        builder.AddNpgsqlDataSource(databaseName);
        builder.AddKafkaClient();
        builder.Services.AddOptions<MessagingOptions>()
            .Bind(builder.Configuration.GetSection(MessagingOptions.Section))
            .PostConfigure(o => { if (string.IsNullOrWhiteSpace(o.ConsumerGroup)) o.ConsumerGroup = serviceName; })
            .Validate(o => o.MaxHandlerAttempts >= 1, "Messaging:MaxHandlerAttempts must be 1 or more")
            .Validate(o => o.RelayBatchSize >= 1, "Messaging:RelayBatchSize must be 1 or more")
            .Validate(o => o.RelayVacuumAfter >= 0, "Messaging:RelayVacuumAfter must be 0 (never) or more")
            .Validate(o => o.ConsumerBatchSize >= 1, "Messaging:ConsumerBatchSize must be 1 or more (1: a transaction per message)")
            .Validate(o => o.SharedTransactions >= 1, "Messaging:SharedTransactions must be 1 or more")
            .Validate(o => o.SharedLockTimeout > TimeSpan.Zero, "Messaging:SharedLockTimeout must be more than zero (for example 00:00:00.100)")
            .Validate(o => o.PartitionBacklog >= 2, "Messaging:PartitionBacklog must be 2 or more")
            .ValidateOnStart();

        var registrations = new MessagingRegistrations();
        var handlers = new MessageHandlers();
        builder.Services.TryAddSingleton(registrations);
        builder.Services.TryAddSingleton(handlers);
        builder.Services.TryAddSingleton(_ => new MessageTypes(registrations.Contracts));
        builder.Services.TryAddSingleton<RelaySignal>();
        builder.Services.TryAddSingleton(sp => new Outbox(sp.GetRequiredService<MessageTypes>(), sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<RelaySignal>()));
        builder.Services.TryAddSingleton<DeadLetters>();
        // Order matters: the schema exists before anything reads or writes it.
        builder.Services.AddHostedService<MessagingStartup>();
        // The relay's connections keep session state (the leader's advisory lock, LISTEN, its
        // settings), so they come from the unpooled data source: a term's end closes its session.
        builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<OutboxRelay>(sp,
            sp.GetRequiredKeyedService<NpgsqlDataSource>(ConnectionExtensions.SessionDataSourceKey(databaseName))));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        builder.Services.AddHostedService<InboxConsumer>();
        return new MessagingBuilder(builder.Services, registrations, handlers);
    }
}

/// <summary>What a service declares about its messages.</summary>
public sealed class MessagingBuilder
{
    private readonly MessagingRegistrations _registrations;
    private readonly MessageHandlers _handlers;

    internal MessagingBuilder(IServiceCollection services, MessagingRegistrations registrations, MessageHandlers handlers)
    {
        Services = services;
        _registrations = registrations;
        _handlers = handlers;
    }

    public IServiceCollection Services { get; }

    /// <summary>Message contracts: every <c>[MessageType]</c> record beside this source-generated JSON context.</summary>
    public MessagingBuilder AddContracts(JsonSerializerContext context)
    {
        _registrations.Contracts.Add(context);
        return this;
    }

    /// <summary>Consumes <typeparamref name="TMessage"/> from <paramref name="topic"/> with <typeparamref name="THandler"/>.</summary>
    public MessagingBuilder Handle<TMessage, THandler>(string topic) where TMessage : class where THandler : class, IMessageHandler<TMessage>
    {
        _handlers.Add<TMessage, THandler>(topic);
        Services.TryAddScoped<THandler>();
        return this;
    }

    /// <summary>Rules a received message must satisfy; a message that breaks one is dead-lettered.</summary>
    public MessagingBuilder Validate<TMessage>(Func<TMessage, IEnumerable<string>> validate) where TMessage : class
    {
        _handlers.AddValidator(validate);
        return this;
    }

    /// <summary>Topics this service publishes to, created at start-up when missing.</summary>
    public MessagingBuilder Publishes(params string[] topics)
    {
        _registrations.PublishedTopics.AddRange(topics);
        return this;
    }

    /// <summary>The service's own schema, applied after the messaging tables.</summary>
    public MessagingBuilder AddMigrations(string component, IReadOnlyList<Migration> migrations)
    {
        _registrations.Migrations.Add((component, migrations));
        return this;
    }
}

/// <summary>Declarations collected by <see cref="MessagingBuilder"/>.</summary>
internal sealed class MessagingRegistrations
{
    public List<JsonSerializerContext> Contracts { get; } = [];
    public List<string> PublishedTopics { get; } = [];
    public List<(string Component, IReadOnlyList<Migration> Migrations)> Migrations { get; } = [];
}
