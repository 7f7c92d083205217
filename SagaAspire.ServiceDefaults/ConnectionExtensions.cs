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
    /// the name, and as the default data source), with a readiness check.
    /// </summary>
    public static TBuilder AddNpgsqlDataSource<TBuilder>(this TBuilder builder, string connectionName) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = ConnectionStrings.GetPostgres(builder.Configuration, connectionName);
        // The few statements a service runs over and over (inbox, outbox, its own tables) are
        // prepared on each connection after a few uses, so PostgreSQL stops parsing and planning
        // them on every call (see docs/benchmarks.md). A connection string that sets its own
        // value wins: 0 turns this off, as a transaction-pooling proxy may need.
        // (Npgsql's builder answers ContainsKey for every keyword it knows; the plain builder,
        // given its canonical form, only for those set.)
        if (!new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString.ConnectionString }.ContainsKey("Max Auto Prepare"))
            connectionString.MaxAutoPrepare = AutoPreparedStatements;
        builder.Services.AddKeyedSingleton(connectionName, (sp, _) =>
        {
            var dataSource = new NpgsqlDataSourceBuilder(connectionString.ConnectionString) { Name = connectionName };
            dataSource.UseLoggerFactory(sp.GetService<Logging.ILoggerFactory>());
            // Span names as the OpenTelemetry database conventions have them ("INSERT orders"),
            // rather than the same name for every statement.
            dataSource.ConfigureTracing(tracing => tracing
                .ConfigureCommandSpanNameProvider(command => DatabaseSpanName(command.CommandText, connectionString.Database))
                .ConfigureBatchSpanNameProvider(batch => DatabaseSpanName(batch.BatchCommands.Count > 0 ? batch.BatchCommands[0].CommandText : "", connectionString.Database)));
            return dataSource.Build();
        });
        builder.Services.TryAddSingleton(sp => sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            $"postgres-{connectionName}",
            sp => new PostgresHealthCheck(sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName)),
            HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(5)));
        return builder;
    }

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

    /// <summary>"{operation} {database}", the operation being the statement's first keyword.</summary>
    internal static string DatabaseSpanName(string sql, string? database)
    {
        var text = sql.AsSpan().TrimStart();
        var end = 0;
        while (end < text.Length && char.IsAsciiLetter(text[end])) end++;
        var operation = end == 0 ? "QUERY" : text[..end].ToString().ToUpperInvariant();
        return string.IsNullOrEmpty(database) ? operation : $"{operation} {database}";
    }

    private sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = dataSource.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is unreachable", ex);
            }
        }
    }

    private sealed class KafkaHealthCheck(KafkaClientSettings settings) : IHealthCheck, IDisposable
    {
        private readonly Lazy<IAdminClient> _admin = new(() => new AdminClientBuilder(settings.CreateAdminConfig())
            .SetLogHandler((_, _) => { }) // unreachable brokers are reported by the check, not logged every second
            .Build());

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.Run(() =>
            {
                try
                {
                    var metadata = _admin.Value.GetMetadata(TimeSpan.FromSeconds(3));
                    return metadata.Brokers.Count > 0
                        ? HealthCheckResult.Healthy()
                        : HealthCheckResult.Unhealthy("Kafka reported no brokers");
                }
                catch (KafkaException ex)
                {
                    return HealthCheckResult.Unhealthy("Kafka is unreachable", ex);
                }
            }, cancellationToken);

        public void Dispose()
        {
            if (_admin.IsValueCreated) _admin.Value.Dispose();
        }
    }
}
