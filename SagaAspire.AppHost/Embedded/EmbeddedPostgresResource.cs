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
}
