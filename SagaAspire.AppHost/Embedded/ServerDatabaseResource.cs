using System.Data.Common;

namespace SagaAspire.AppHost.Embedded;

/// <summary>
/// A database on a PostgreSQL server this AppHost does not run as a container (the embedded
/// server, or an existing one named by a connection string), created when it is missing.
/// </summary>
public sealed class ServerDatabaseResource(string name, string databaseName, IResourceWithConnectionString server)
    : Resource(name), IResourceWithConnectionString, IResourceWithParent<IResourceWithConnectionString>
{
    public string DatabaseName { get; } = databaseName;

    public IResourceWithConnectionString Parent { get; } = server;

    public ReferenceExpression ConnectionStringExpression
    {
        get
        {
            var database = new DbConnectionStringBuilder { ["Database"] = DatabaseName };
            return ReferenceExpression.Create($"{Parent};{database.ToString()}");
        }
    }

    // The server's parts and the database's name, as Aspire's own PostgreSQL databases list them;
    // the dashboard uses them to name the database a span of a service's went to.
    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
        [.. Parent.GetConnectionProperties(), new("DatabaseName", ReferenceExpression.Create($"{DatabaseName}"))];
}
