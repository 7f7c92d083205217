namespace SagaAspire.AppHost.Embedded;

/// <summary>
/// The embedded Kafka-protocol broker (librdkafka's mock cluster, in memory) as a process of
/// its own, with bootstrap servers for a connection string and a control endpoint for outages.
/// For development and tests: stopping it loses every message and offset.
/// </summary>
public sealed class EmbeddedKafkaResource(string name) : ExecutableResource(name, "dotnet", EmbeddedServerProgram.Directory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";
    internal const string ControlEndpointName = "control";

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    /// <summary>The broker's HTTP control endpoint: GET / for its state, POST /outage?seconds=n, POST /up.</summary>
    public EndpointReference ControlEndpoint => field ??= new(this, ControlEndpointName);

    // 127.0.0.1 rather than the endpoint's host name (localhost): the broker listens on IPv4 loopback only.
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"127.0.0.1:{PrimaryEndpoint.Property(EndpointProperty.Port)}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"127.0.0.1")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
    ];
}
