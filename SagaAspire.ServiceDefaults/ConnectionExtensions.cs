using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using SagaAspire.ServiceDefaults;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers the clients a service needs, by the connection names the AppHost uses.</summary>
public static class ConnectionExtensions
{
    internal const string ReadyTag = "ready";

    /// <summary>Statements prepared automatically per connection, unless the connection string says otherwise.</summary>
    internal const int AutoPreparedStatements = 64;

    /// <summary>
    /// Registers an <see cref="NpgsqlDataSource"/> for <c>ConnectionStrings:&lt;name&gt;</c> (keyed by
    /// the name, and as the default data source), with a readiness check, and beside it an unpooled
    /// one keyed <see cref="SessionDataSourceKey"/> for connections that keep session state.
    /// </summary>
    /// <remarks>
    /// The pooled data source hands its connections on without resetting them (see
    /// docs/messaging.md, "The database connection"): work on them keeps its state to its
    /// transaction (<c>SET LOCAL</c>, <c>pg_advisory_xact_lock</c>). Session advisory locks,
    /// <c>LISTEN</c> and session settings belong on a connection of the unpooled data source,
    /// whose session ends when the connection closes.
    /// </remarks>
    public static TBuilder AddNpgsqlDataSource<TBuilder>(this TBuilder builder, string connectionName) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = ConnectionStrings.GetPostgres(builder.Configuration, connectionName);
        // (Npgsql's builder answers ContainsKey for every keyword it knows; the plain builder,
        // given its canonical form, only for those set.)
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString.ConnectionString };
        // The few statements a service runs over and over (inbox, outbox, its own tables) are
        // prepared on each connection after a few uses, so PostgreSQL stops parsing and planning
        // them on every call, and a connection goes back to the pool without the reset statements
        // PostgreSQL would parse and run on its next use (see docs/benchmarks.md). A connection
        // string that sets its own value wins: Max Auto Prepare=0 for a transaction-pooling proxy
        // that cannot keep prepared statements, No Reset On Close=false for code that leaves
        // session state behind.
        if (!given.ContainsKey("Max Auto Prepare")) connectionString.MaxAutoPrepare = AutoPreparedStatements;
        if (!given.ContainsKey("No Reset On Close")) connectionString.NoResetOnClose = true;
        var sessions = new NpgsqlConnectionStringBuilder(connectionString.ConnectionString) { Pooling = false };

        NpgsqlDataSource Build(IServiceProvider services, NpgsqlConnectionStringBuilder settings, string name)
        {
            var dataSource = new NpgsqlDataSourceBuilder(settings.ConnectionString) { Name = name };
            dataSource.UseLoggerFactory(services.GetService<Logging.ILoggerFactory>());
            // Span names as the OpenTelemetry database conventions have them ("INSERT orders"),
            // rather than the same name for every statement. Only a statement inside a recorded
            // trace gets a span: the background loops' own queries (the relay's reads and deletes,
            // the sweepers) and those of requests left out of the traces (the health checks'
            // SELECT 1) would each be a trace of one span, several a second per service even at
            // rest, burying the sagas' traces in the dashboard. The parent's Recorded flag is
            // checked here because the AppHost sets OTEL_TRACES_SAMPLER=always_on, which keeps a
            // span whose parent was dropped. The pool's physical connection opens are not traced
            // (Npgsql cannot filter them, and outside a trace each was a trace of its own): their
            // count and duration are in Npgsql's metrics. Nor does a statement's span carry the
            // "received-first-response" event: each span is one round trip, so the event says
            // little its end does not, and it was the one event on 34 of a saga's 55 spans.
            dataSource.ConfigureTracing(tracing => tracing
                .ConfigureCommandFilter(_ => Activity.Current is { Recorded: true })
                .ConfigureBatchFilter(_ => Activity.Current is { Recorded: true })
                .EnablePhysicalOpenTracing(false)
                .EnableFirstResponseEvent(false)
                .ConfigureCommandSpanNameProvider(command => DatabaseSpanName(command.CommandText, settings.Database))
                .ConfigureBatchSpanNameProvider(batch => DatabaseSpanName(BatchNamedAfter(batch), settings.Database)));
            return dataSource.Build();
        }

        builder.Services.AddKeyedSingleton(connectionName, (sp, _) => Build(sp, connectionString, connectionName));
        builder.Services.AddKeyedSingleton(SessionDataSourceKey(connectionName), (sp, _) => Build(sp, sessions, $"{connectionName} sessions"));
        builder.Services.TryAddSingleton(sp => sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName));
        builder.Services.AddHealthChecks().AddNpgSql(
            sp => sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName),
            name: $"postgres-{connectionName}", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>
    /// The key of the unpooled data source <see cref="AddNpgsqlDataSource{TBuilder}"/> registers
    /// beside the pooled one: closing one of its connections ends the session, and with it every
    /// advisory lock, <c>LISTEN</c> and setting the session held.
    /// </summary>
    public static string SessionDataSourceKey(string connectionName) => $"{connectionName}:sessions";

    /// <summary>
    /// Registers <see cref="KafkaClientSettings"/> from <c>ConnectionStrings:&lt;name&gt;</c> and
    /// <c>Kafka:Client</c>, with a readiness check that asks the cluster for its metadata.
    /// </summary>
    public static TBuilder AddKafkaClient<TBuilder>(this TBuilder builder, string connectionName = "kafka") where TBuilder : IHostApplicationBuilder
    {
        var settings = KafkaClientSettings.FromConfiguration(builder.Configuration, connectionName);
        builder.Services.TryAddSingleton(settings);
        builder.Services.AddSingleton<KafkaHealthCheck>();
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            $"kafka-{connectionName}", sp => sp.GetRequiredService<KafkaHealthCheck>(),
            HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(5)));
        return builder;
    }

    /// <summary>
    /// The statement a batch's span is named after: the application's own, leaving out settings
    /// for the transaction (a shared transaction's first batch begins with <c>SET LOCAL
    /// lock_timeout</c>) and the messaging building block's bookkeeping in the <c>messaging</c>
    /// schema (the inbox's record of the message, which a handler's first read follows; the outbox
    /// rows after a handler's writes); of those, the first that changes something, else the first.
    /// So an order's outcome shows as <c>UPDATE orders</c>, not as the inbox's <c>INSERT</c>, and
    /// a stock move as <c>UPDATE inventory</c>, not as the <c>SELECT ... FOR UPDATE</c> that locks
    /// its products first. A batch of bookkeeping alone is named after its first statement.
    /// </summary>
    private static string BatchNamedAfter(NpgsqlBatch batch)
    {
        string? firstRead = null;
        foreach (var command in batch.BatchCommands)
        {
            var text = command.CommandText.AsSpan().TrimStart();
            if (IsBookkeeping(text)) continue;
            if (Changes(text)) return command.CommandText;
            firstRead ??= command.CommandText;
        }
        return firstRead ?? (batch.BatchCommands.Count > 0 ? batch.BatchCommands[0].CommandText : "");

        static bool IsBookkeeping(ReadOnlySpan<char> text) =>
            text.StartsWith("SET ", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("INSERT INTO messaging.", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("UPDATE messaging.", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("DELETE FROM messaging.", StringComparison.OrdinalIgnoreCase);

        static bool Changes(ReadOnlySpan<char> text) =>
            text.StartsWith("INSERT ", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("UPDATE ", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("DELETE ", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("MERGE ", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>"{operation} {database}", the operation being the statement's first keyword.</summary>
    internal static string DatabaseSpanName(string sql, string? database)
    {
        var text = sql.AsSpan().TrimStart();
        var end = 0;
        while (end < text.Length && char.IsAsciiLetter(text[end])) end++;
        var operation = end == 0 ? "QUERY" : text[..end].ToString().ToUpperInvariant();
        return string.IsNullOrEmpty(database) ? operation : $"{operation} {database}";
    }

    /// <summary>
    /// Asks the cluster for its metadata. Hand-written because AspNetCore.HealthChecks.Kafka, the
    /// package that would do this, is not served on our machines (PostgreSQL's check is the package's).
    /// </summary>
    private sealed class KafkaHealthCheck(KafkaClientSettings settings) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.Run(() =>
            {
                // A client for each check rather than one kept for the service's life: an idle
                // librdkafka client still wakes its threads some twenty times a second, and the
                // check runs only every 30 s or so.
                using var admin = new AdminClientBuilder(settings.CreateAdminConfig())
                    .SetLogHandler((_, _) => { }) // unreachable brokers are reported by the check, not logged every second
                    .Build();
                try
                {
                    var metadata = admin.GetMetadata(TimeSpan.FromSeconds(3));
                    return metadata.Brokers.Count > 0
                        ? HealthCheckResult.Healthy()
                        : HealthCheckResult.Unhealthy("Kafka reported no brokers");
                }
                catch (KafkaException ex)
                {
                    return HealthCheckResult.Unhealthy("Kafka is unreachable", ex);
                }
            }, cancellationToken);
    }
}
