namespace SagaAspire.AppHost.Embedded;

/// <summary>
/// A PostgreSQL server from this machine's binaries, as a process of its own (run as the
/// postgres user when the AppHost runs as root), listening on 127.0.0.1 with trust
/// authentication: a development server, reachable from this machine only.
/// </summary>
public sealed class EmbeddedPostgresResource(string name) : ExecutableResource(name, "dotnet", EmbeddedServerProgram.Directory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";
    public const string UserName = SagaAspire.Embedded.EmbeddedPostgres.Superuser;

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    /// <summary>The server, without a database: each database resource adds its own.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"Host=127.0.0.1;Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName}");

    // The parts of the connection string, as Aspire's own PostgreSQL resource lists them (no password: trust on loopback).
    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"127.0.0.1")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
        new("Username", ReferenceExpression.Create($"{UserName}")),
    ];
}
