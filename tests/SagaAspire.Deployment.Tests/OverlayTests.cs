using System.Globalization;
using Npgsql;
using SagaAspire.Deployment.Tests.Kustomize;

namespace SagaAspire.Deployment.Tests;

public sealed class the_dev_overlay
{
    private readonly Rendering _dev = Overlays.Render("dev");

    [Fact]
    public void points_every_service_at_the_kafka_broker_it_runs()
    {
        foreach (var service in Services.All)
        {
            var bootstrap = _dev.Environment(_dev.Container(service.Name))["ConnectionStrings__kafka"].Value!;
            var (host, port) = HostAndPort(bootstrap);
            var route = _dev.Route(host, port);
            route.ShouldNotBeNull($"{service.Name}'s Kafka {bootstrap} is no Service of the overlay");
            route.Value.Workload.Kind.ShouldBe("StatefulSet");
            ((string)route.Value.Container["image"]!).ShouldStartWith("apache/kafka:");
            // The broker tells clients to come back by the same name, or they could not reconnect.
            _dev.Environment(route.Value.Container)["KAFKA_ADVERTISED_LISTENERS"].Value.ShouldBe($"PLAINTEXT://{bootstrap}");
        }
    }

    [Fact]
    public void points_every_service_at_its_database_on_the_postgres_it_runs_with_the_password_it_sets()
    {
        foreach (var service in Services.All)
        {
            var connection = new NpgsqlConnectionStringBuilder(_dev.Environment(_dev.Container(service.Name))[$"ConnectionStrings__{service.Database}"].Value);
            var route = _dev.Route(connection.Host!, connection.Port);
            route.ShouldNotBeNull($"{service.Name}'s database host {connection.Host}:{connection.Port} is no Service of the overlay");
            route.Value.Workload.Name.ShouldBe("postgres");
            var server = _dev.Environment(route.Value.Container);
            connection.Username.ShouldBe(server["POSTGRES_USER"].Value);
            connection.Password.ShouldBe(server["POSTGRES_PASSWORD"].Value, $"{service.Name}'s password is the server's");
            connection.Database.ShouldBe(service.Database);
        }
    }

    [Fact]
    public void creates_the_database_of_every_service()
    {
        var job = _dev.Find("Job", "create-databases");
        job.ShouldNotBeNull();
        var environment = _dev.Environment(job.Containers().Single());
        environment["DATABASES"].Value!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .ShouldBe(Services.All.Select(s => s.Database), ignoreOrder: true);
        var server = _dev.Route(environment["PGHOST"].Value!, 5432);
        server.ShouldNotBeNull($"the Job's PGHOST {environment["PGHOST"].Value}:5432 is no Service of the overlay");
        server.Value.Workload.Name.ShouldBe("postgres");
        environment["PGPASSWORD"].Value.ShouldBe(_dev.Environment(_dev.Find("StatefulSet", "postgres")!.Containers().Single())["POSTGRES_PASSWORD"].Value);
    }

    [Fact]
    public void sends_telemetry_to_the_dashboard_it_runs_over_the_protocol_it_names()
    {
        foreach (var service in Services.All)
        {
            var environment = _dev.Environment(_dev.Container(service.Name));
            var endpoint = new Uri(environment["OTEL_EXPORTER_OTLP_ENDPOINT"].Value!);
            var route = _dev.Route(endpoint.Host, endpoint.Port);
            route.ShouldNotBeNull($"{service.Name}'s OTLP endpoint {endpoint} is no Service of the overlay");
            route.Value.Workload.Name.ShouldBe("aspire-dashboard");
            var servicePort = Kustomizer.Maps(route.Value.Service.Spec, "ports").Single(p => (string?)p["port"] == endpoint.Port.ToString(CultureInfo.InvariantCulture));
            ((string)servicePort["name"]!).ShouldBe(environment["OTEL_EXPORTER_OTLP_PROTOCOL"].Value == "grpc" ? "otlp-grpc" : "otlp-http");
        }
    }

    private static (string Host, int Port) HostAndPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}

public sealed class the_prod_overlay
{
    private readonly Rendering _prod = Overlays.Render("prod");

    [Fact]
    public void holds_no_secret_the_operator_creates_them()
    {
        _prod.OfKind("Secret").Select(s => s.Name).ShouldBeEmpty();
        _prod.SecretReferences().ShouldNotBeEmpty();
    }

    [Fact]
    public void runs_several_replicas_of_each_service_but_no_more_than_a_topic_has_partitions()
    {
        foreach (var service in Services.All)
        {
            var replicas = int.Parse((string)_prod.Deployment(service.Name).Spec["replicas"]!, CultureInfo.InvariantCulture);
            var partitions = int.Parse(_prod.Environment(_prod.Container(service.Name))["Messaging__TopicPartitions"].Value!, CultureInfo.InvariantCulture);
            replicas.ShouldBeGreaterThan(1, $"{service.Name}: one replica is a single point of failure");
            replicas.ShouldBeLessThanOrEqualTo(partitions, $"{service.Name}: consumers beyond the partition count stand idle (docs/deployment.md)");
        }
    }

    [Fact]
    public void lets_a_node_drain_take_only_one_replica_of_a_service_at_a_time()
    {
        foreach (var service in Services.All)
        {
            var budget = _prod.Find("PodDisruptionBudget", service.Name);
            budget.ShouldNotBeNull($"{service.Name} has no PodDisruptionBudget");
            budget.Spec["maxUnavailable"].ShouldBe("1");
            var selector = Kustomizer.Map(Kustomizer.Map(budget.Spec, "selector"), "matchLabels")!;
            var labels = _prod.Deployment(service.Name).Labels(Kustomizer.Map(_prod.Deployment(service.Name).PodTemplate, "metadata")!);
            selector.ShouldAllBe(l => labels.GetValueOrDefault(l.Key) == (string?)l.Value, $"{service.Name}'s budget selects its pods");
        }
    }
}
