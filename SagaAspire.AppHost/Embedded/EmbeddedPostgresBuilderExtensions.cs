using HealthChecks.NpgSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace SagaAspire.AppHost.Embedded;

public static class EmbeddedPostgresBuilderExtensions
{
    /// <summary>
    /// A PostgreSQL server from this machine's binaries, its data in <paramref name="dataDirectory"/>
    /// (initialised when empty; null: a temporary folder, removed when the server stops).
    /// </summary>
    public static IResourceBuilder<EmbeddedPostgresResource> AddEmbeddedPostgres(this IDistributedApplicationBuilder builder, [ResourceName] string name, string? dataDirectory)
    {
        var server = new EmbeddedPostgresResource(name);
        var data = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"sagaaspire-{name}-{Guid.NewGuid():N}");
        var healthCheckKey = $"{name}_check";
        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(server, async (_, cancellationToken) =>
            connectionString = await server.ConnectionStringExpression.GetValueAsync(cancellationToken));
        // Connections only once the server says it is ready (postmaster.pid): one during its start
        // would make it log "FATAL: the database system is starting up".
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheckKey, _ => new ReadyServerHealthCheck(data,
            new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(ServerConnectionString(connectionString ?? throw new InvalidOperationException("The server's port is not known yet."))))),
            failureStatus: default, tags: default));

        return builder.AddResource(server)
            .WithServerArguments("postgres", dataDirectory is null ? ["--data", data, "--temporary"] : ["--data", data])
            .WithEndpoint(name: EmbeddedPostgresResource.PrimaryEndpointName, scheme: "tcp", env: "POSTGRES_PORT", isProxied: false)
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }

    /// <summary>A database on the embedded server, created once the server is healthy.</summary>
    public static IResourceBuilder<ServerDatabaseResource> AddDatabase(this IResourceBuilder<EmbeddedPostgresResource> builder, [ResourceName] string name, string databaseName) =>
        builder.ApplicationBuilder.AddServerDatabase(builder.Resource, name, databaseName, waitForServer: true);

    /// <summary>A database on an existing server (a connection-string resource), created when missing.</summary>
    public static IResourceBuilder<ServerDatabaseResource> AddDatabase(this IResourceBuilder<IResourceWithConnectionString> builder, [ResourceName] string name, string databaseName) =>
        builder.ApplicationBuilder.AddServerDatabase(builder.Resource, name, databaseName, waitForServer: false);

    /// <summary>
    /// Drives the database's own lifecycle, since Aspire passes no state from an executable (or a
    /// connection string) to its children: wait for the server, create the database unless it
    /// exists, then Running; its health check connects to the database itself.
    /// </summary>
    private static IResourceBuilder<ServerDatabaseResource> AddServerDatabase(this IDistributedApplicationBuilder builder, IResourceWithConnectionString server,
        string name, string databaseName, bool waitForServer)
    {
        var database = new ServerDatabaseResource(name, databaseName, server);
        var healthCheckKey = $"{name}_check";
        string? connectionString = null;
        builder.Services.AddHealthChecks().AddNpgSql(_ => connectionString ?? throw new InvalidOperationException("The database is not created yet."), name: healthCheckKey);

        return builder.AddResource(database)
            .WithIconName("Database")
            .WithInitialState(new CustomResourceSnapshot { ResourceType = "Database", State = KnownResourceStates.NotStarted, Properties = [new("database.name", databaseName)] })
            .WithHealthCheck(healthCheckKey)
            .OnInitializeResource(async (resource, @event, cancellationToken) =>
            {
                await @event.Notifications.PublishUpdateAsync(resource, s => s with { State = KnownResourceStates.Waiting });
                if (waitForServer) await @event.Notifications.WaitForResourceHealthyAsync(server.Name, cancellationToken);
                var serverConnectionString = await server.ConnectionStringExpression.GetValueAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"The server {server.Name} has no connection string.");
                await CreateUntilDoneAsync(serverConnectionString, resource.DatabaseName, @event.Logger, cancellationToken);
                connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken);
                await @event.Notifications.PublishUpdateAsync(resource, s => s with { State = KnownResourceStates.Running, StartTimeStamp = DateTime.UtcNow });
                await @event.Eventing.PublishAsync(new ConnectionStringAvailableEvent(resource, @event.Services), cancellationToken);
            });
    }

    /// <summary>
    /// Creates the database, trying again while the server cannot be reached (an existing server
    /// that is not up yet, say); each new reason is logged to the database resource once.
    /// </summary>
    private static async Task CreateUntilDoneAsync(string serverConnectionString, string database, ILogger log, CancellationToken cancellationToken)
    {
        string? lastError = null;
        while (true)
        {
            try
            {
                await SagaAspire.Embedded.EmbeddedPostgres.CreateDatabaseAsync(ServerConnectionString(serverConnectionString), database, cancellationToken);
                log.LogInformation("Database {Database} is ready.", database);
                return;
            }
            catch (Exception error) when (error is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                if (error.Message != lastError) log.LogWarning("Cannot create database {Database} yet, trying again every 2 s: {Reason}", database, error.Message);
                lastError = error.Message;
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    /// <summary>
    /// The server's connection string for server-wide work, in the database it names or else in
    /// <c>postgres</c>: without one, Npgsql would pick a database named after the user.
    /// </summary>
    private static string ServerConnectionString(string connectionString)
    {
        var server = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        if (string.IsNullOrEmpty(server.Database)) server.Database = "postgres";
        return server.ConnectionString;
    }

    /// <summary>Unhealthy while the server has not said it is ready; then whatever the connection check says.</summary>
    private sealed class ReadyServerHealthCheck(string dataDirectory, IHealthCheck connection) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            SagaAspire.Embedded.EmbeddedPostgres.IsReady(dataDirectory)
                ? connection.CheckHealthAsync(context, cancellationToken)
                : Task.FromResult(HealthCheckResult.Unhealthy("PostgreSQL is starting."));
    }
}
