using Aspire.Hosting.Postgres;
using SagaAspire.AppHost.Embedded;

namespace SagaAspire.AppHost;

/// <summary>The PostgreSQL server of the chosen infrastructure, as a way to add its databases.</summary>
internal static class PostgresServer
{
    /// <summary>Adds the server and returns how to add a database to it: (resource name, database name) → the database.</summary>
    public static Func<string, string, IResourceBuilder<IResourceWithConnectionString>> Add(IDistributedApplicationBuilder builder, string name, SagaAspireSettings settings)
    {
        switch (settings.Infrastructure)
        {
            case Infrastructure.Containers:
                var container = builder.AddPostgres(name);
                if (settings.PersistData) container.WithDataVolume();
                if (settings.PgAdmin) container.WithPgAdmin();
                return (database, databaseName) => container.AddDatabase(database, databaseName);
            case Infrastructure.Embedded:
                var embedded = builder.AddEmbeddedPostgres(name, settings.PersistData ? settings.DataDirectory : null);
                return (database, databaseName) => embedded.AddDatabase(database, databaseName);
            default:
                var existing = builder.AddConnectionString(name);
                return (database, databaseName) => existing.AddDatabase(database, databaseName);
        }
    }
}
