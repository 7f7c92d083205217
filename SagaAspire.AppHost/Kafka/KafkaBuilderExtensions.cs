using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SagaAspire.AppHost.Kafka;

/// <summary>
/// Kafka in a container, written after Aspire.Hosting.Kafka 13.6 (not served here: see
/// <see cref="KafkaServerResource"/>). Remove this folder for that package once it restores:
/// the calls are named as its own are.
/// </summary>
public static class KafkaBuilderExtensions
{
    public const string Registry = "docker.io";
    public const string Image = "confluentinc/confluent-local";
    public const string Tag = "8.2.0";
    public const string KafkaUIImage = "kafbat/kafka-ui";
    public const string KafkaUITag = "v1.5.0";
    private const int BrokerPort = 9092;
    private const int InternalBrokerPort = 9093;
    private const string DataFolder = "/var/lib/kafka/data";

    /// <summary>A Kafka broker (confluent-local, KRaft) whose connection string is its bootstrap servers.</summary>
    public static IResourceBuilder<KafkaServerResource> AddKafka(this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        var kafka = new KafkaServerResource(name);
        return builder.AddResource(kafka)
            .WithEndpoint(targetPort: BrokerPort, port: port, name: KafkaServerResource.PrimaryEndpointName)
            .WithEndpoint(targetPort: InternalBrokerPort, name: KafkaServerResource.InternalEndpointName)
            .WithImage(Image, Tag)
            .WithImageRegistry(Registry)
            .WithIconName("MailMultiple")
            .WithEnvironment(context => ConfigureListeners(context, kafka))
            .WithKafkaHealthCheck();
    }

    /// <summary>Keeps the broker's log (its topics and offsets) in a named volume between runs.</summary>
    public static IResourceBuilder<KafkaServerResource> WithDataVolume(this IResourceBuilder<KafkaServerResource> builder, string? name = null) =>
        builder.WithEnvironment("KAFKA_LOG_DIRS", DataFolder)
            .WithVolume(name ?? VolumeNameGenerator.Generate(builder, "data"), DataFolder);

    /// <summary>Kafka UI for this broker, reaching it over the container network.</summary>
    public static IResourceBuilder<KafkaServerResource> WithKafkaUI(this IResourceBuilder<KafkaServerResource> builder, string name = "kafka-ui")
    {
        var kafka = builder.Resource;
        builder.ApplicationBuilder.AddResource(new KafkaUIContainerResource(name))
            .WithImage(KafkaUIImage, KafkaUITag)
            .WithImageRegistry(Registry)
            .WithIconName("WindowDatabase")
            .WithHttpEndpoint(targetPort: 8080)
            .WithEnvironment(context =>
            {
                context.EnvironmentVariables["KAFKA_CLUSTERS_0_NAME"] = kafka.Name;
                // In run mode the containers share Aspire's container network, where the broker is
                // known by its resource name; a published manifest names the endpoint.
                context.EnvironmentVariables["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] = context.ExecutionContext.IsRunMode
                    ? ReferenceExpression.Create($"{kafka.Name}:{kafka.InternalEndpoint.Property(EndpointProperty.TargetPort)}")
                    : ReferenceExpression.Create($"{kafka.InternalEndpoint.Property(EndpointProperty.HostAndPort)}");
            })
            .WithParentRelationship(builder)
            .WaitFor(builder)
            .ExcludeFromManifest();
        return builder;
    }

    /// <summary>
    /// Healthy once a broker answers a metadata request, whichever way Kafka is provided.
    /// (Aspire.Hosting.Kafka produces a message through AspNetCore.HealthChecks.Kafka, which is
    /// not served here; a metadata request proves the same: a broker that speaks Kafka answers.)
    /// </summary>
    public static IResourceBuilder<T> WithKafkaHealthCheck<T>(this IResourceBuilder<T> builder) where T : IResourceWithConnectionString
    {
        var key = $"{builder.Resource.Name}_kafka_check";
        builder.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key,
            _ => new KafkaHealthCheck(builder.Resource), failureStatus: default, tags: default));
        return builder.WithHealthCheck(key);
    }

    private static void ConfigureListeners(EnvironmentCallbackContext context, KafkaServerResource kafka)
    {
        // The image's KRaft defaults (one broker that is its own controller) plus a listener for
        // the host (PLAINTEXT_HOST, the connection string) and one for other containers.
        context.EnvironmentVariables["KAFKA_LISTENERS"] =
            $"PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:{BrokerPort},PLAINTEXT_INTERNAL://0.0.0.0:{InternalBrokerPort}";
        context.EnvironmentVariables["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] =
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT,PLAINTEXT_INTERNAL:PLAINTEXT";
        var primary = kafka.PrimaryEndpoint;
        var @internal = kafka.InternalEndpoint;
        context.EnvironmentVariables["KAFKA_ADVERTISED_LISTENERS"] = context.ExecutionContext.IsRunMode
            ? ReferenceExpression.Create($"PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:{primary.Property(EndpointProperty.Port)},PLAINTEXT_INTERNAL://{kafka.Name}:{@internal.Property(EndpointProperty.TargetPort)}")
            : ReferenceExpression.Create($"PLAINTEXT://{primary.Property(EndpointProperty.Host)}:29092,PLAINTEXT_HOST://{primary.Property(EndpointProperty.HostAndPort)},PLAINTEXT_INTERNAL://{@internal.Property(EndpointProperty.HostAndPort)}");
    }
}
