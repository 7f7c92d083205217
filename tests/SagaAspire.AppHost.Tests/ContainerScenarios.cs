using Aspire.Hosting.Postgres;
using SagaAspire.AppHost.Kafka;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The containers infrastructure, which cannot start here (no container runtime): the model the
/// AppHost builds for it when publishing, checked as Aspire's own tests check theirs.
/// </summary>
public sealed class the_containers_infrastructure : IAsyncLifetime
{
    private IDistributedApplicationTestingBuilder _builder = null!;

    public async Task InitializeAsync() => _builder = await ModelEnvironment.PublishingAsync();

    public Task DisposeAsync()
    {
        (_builder as IDisposable)?.Dispose();
        return Task.CompletedTask;
    }

    private T Resource<T>(string name) where T : IResource => _builder.Resources.OfType<T>().Single(r => r.Name == name);

    private Task<Dictionary<string, string>> EnvironmentAsync(IResource resource) => ModelEnvironment.OfAsync(_builder, resource);

    [Fact]
    public async Task runs_kafka_as_aspire_hosting_kafka_does()
    {
        var kafka = Resource<KafkaServerResource>("kafka");
        var image = kafka.Annotations.OfType<ContainerImageAnnotation>().Single();
        (image.Registry, image.Image, image.Tag).ShouldBe(("docker.io", "confluentinc/confluent-local", "8.2.0"));
        var endpoints = kafka.Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name, e => e.TargetPort);
        endpoints.ShouldBe(new Dictionary<string, int?> { ["tcp"] = 9092, ["internal"] = 9093 }, ignoreOrder: true);
        kafka.ConnectionStringExpression.ValueExpression.ShouldBe("{kafka.bindings.tcp.host}:{kafka.bindings.tcp.port}");

        var environment = await EnvironmentAsync(kafka);
        environment["KAFKA_LISTENERS"].ShouldBe("PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:9092,PLAINTEXT_INTERNAL://0.0.0.0:9093");
        environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].ShouldBe("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT,PLAINTEXT_INTERNAL:PLAINTEXT");
        environment["KAFKA_ADVERTISED_LISTENERS"].ShouldBe(
            "PLAINTEXT://{kafka.bindings.tcp.host}:29092,PLAINTEXT_HOST://{kafka.bindings.tcp.host}:{kafka.bindings.tcp.port},PLAINTEXT_INTERNAL://{kafka.bindings.internal.host}:{kafka.bindings.internal.port}");
        environment["KAFKA_LOG_DIRS"].ShouldBe("/var/lib/kafka/data", "data is kept in a volume by default (SagaAspire:PersistData)");
        kafka.Annotations.OfType<ContainerMountAnnotation>().Single().Target.ShouldBe("/var/lib/kafka/data");
    }

    [Fact]
    public async Task adds_kafka_ui_on_the_container_network_outside_the_manifest()
    {
        var ui = Resource<KafkaUIContainerResource>("kafka-ui");
        var image = ui.Annotations.OfType<ContainerImageAnnotation>().Single();
        (image.Registry, image.Image, image.Tag).ShouldBe(("docker.io", "kafbat/kafka-ui", "v1.5.0"));
        ui.Annotations.OfType<EndpointAnnotation>().Single().TargetPort.ShouldBe(8080);
        ui.Annotations.OfType<ManifestPublishingCallbackAnnotation>().ShouldContain(a => a.Callback == null, "excluded from the manifest");
        var environment = await EnvironmentAsync(ui);
        environment["KAFKA_CLUSTERS_0_NAME"].ShouldBe("kafka");
        environment["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"].ShouldBe("{kafka.bindings.internal.host}:{kafka.bindings.internal.port}");
    }

    [Fact]
    public void runs_postgres_with_a_database_per_service()
    {
        var postgres = Resource<PostgresServerResource>("postgres");
        postgres.Databases.ShouldBe(new Dictionary<string, string>
        {
            ["inventory-db"] = "inventory", ["payment-db"] = "payment", ["delivery-db"] = "delivery", ["orchestrator-db"] = "orchestrator", ["orders-db"] = "orders",
        }, ignoreOrder: true);
        postgres.PasswordParameter.Secret.ShouldBeTrue("the database password is a secret parameter");
    }

    [Theory]
    [InlineData("order", "orders")]
    [InlineData("orchestrator", "orchestrator")]
    [InlineData("inventory", "inventory")]
    [InlineData("payment", "payment")]
    [InlineData("delivery", "delivery")]
    public async Task gives_each_service_the_same_settings_as_every_other_infrastructure(string service, string database)
    {
        var environment = await EnvironmentAsync(Resource<ProjectResource>(service));
        environment["ConnectionStrings__kafka"].ShouldBe("{kafka.connectionString}");
        environment[$"ConnectionStrings__{database}"].ShouldBe($"{{{database}-db.connectionString}}");
        environment["Operations__ApiKey"].ShouldBe("{operator-api-key.value}");
        environment.ShouldNotContainKey("Explorer__DashboardUrl", "a published system has no AppHost dashboard");
        environment.Keys.ShouldNotContain(k => k.StartsWith("Kafka__Consumer__", StringComparison.Ordinal), "the embedded broker's tuning stays with it");
    }
}
