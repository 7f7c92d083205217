namespace SagaAspire.AppHost.Kafka;

/// <summary>
/// A Kafka broker in a container (KRaft, one node), as Aspire.Hosting.Kafka 13.6 sets it up.
/// That package is not served by our machines' NuGet sources, so this AppHost carries its own
/// small equivalent: the same image, listeners, endpoints and connection string.
/// </summary>
public sealed class KafkaServerResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    /// <summary>The endpoint processes on the host connect to (bootstrap servers).</summary>
    internal const string PrimaryEndpointName = "tcp";

    /// <summary>The endpoint other containers (Kafka UI) connect to, on the container network.</summary>
    internal const string InternalEndpointName = "internal";

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    public EndpointReference InternalEndpoint => field ??= new(this, InternalEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
}

/// <summary>Kafka UI (kafbat), a browser view of the topics, messages and consumer groups.</summary>
public sealed class KafkaUIContainerResource(string name) : ContainerResource(name);
