using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using SagaAspire.Deployment.Tests.Kustomize;
using SagaAspire.ServiceDefaults;

namespace SagaAspire.Deployment.Tests;

/// <summary>
/// The configuration contract (README, "Configuration contract"): in each overlay, each service's
/// container gets what the Aspire AppHost gives it, under the same names.
/// </summary>
public sealed partial class every_service_in_every_overlay
{
    [Theory]
    [MemberData(nameof(Services.EveryOverlayAndService), MemberType = typeof(Services))]
    public void gets_every_setting_it_reads(string overlay, string service)
    {
        var rendering = Overlays.Render(overlay);
        var environment = rendering.Environment(rendering.Container(service));
        var database = Services.Named(service).Database;
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Values.Where(s => s.Value is not null).Select(s => KeyValuePair.Create(s.Name.Replace("__", ":", StringComparison.Ordinal), s.Value)))
            .Build();

        // Read by the service's own rules: a value they would refuse at start-up fails here.
        Should.NotThrow(() => ConnectionStrings.GetKafkaBootstrapServers(configuration, "kafka"), $"{overlay}/{service}: ConnectionStrings__kafka");
        var connection = Required(environment, $"ConnectionStrings__{database}");
        if (connection.Value is not null)
            ConnectionStrings.GetPostgres(configuration, database).Database.ShouldBe(database, $"{overlay}/{service}: the database its connection string names");

        Required(environment, "OTEL_SERVICE_NAME").Value.ShouldBe(service, $"{overlay}/{service}: OTEL_SERVICE_NAME");
        Required(environment, "OTEL_RESOURCE_ATTRIBUTES");
        Uri.TryCreate(Required(environment, "OTEL_EXPORTER_OTLP_ENDPOINT").Value, UriKind.Absolute, out var otlp).ShouldBeTrue($"{overlay}/{service}: OTEL_EXPORTER_OTLP_ENDPOINT is an absolute URL");
        otlp!.Scheme.ShouldBeOneOf("http", "https");
        Required(environment, "OTEL_EXPORTER_OTLP_PROTOCOL").Value.ShouldBeOneOf("grpc", "http/protobuf");
        Required(environment, "Operations__ApiKey").Source.ShouldBe(SettingSource.Secret, $"{overlay}/{service}: Operations__ApiKey protects the operator actions, from a Secret");

        // The service listens where its container port, its probes and its Service expect it.
        var urls = Required(environment, "ASPNETCORE_URLS").Value!;
        var listening = ListeningPort().Match(urls);
        listening.Success.ShouldBeTrue($"{overlay}/{service}: ASPNETCORE_URLS '{urls}' names no port");
        HttpPort(rendering.Container(service)).ShouldBe(listening.Groups["port"].Value, $"{overlay}/{service}: the container port named http is the one ASPNETCORE_URLS binds");

        // Every service's address (the AppHost gives those a service references); each one reaches that service.
        foreach (var other in Services.All)
        {
            var address = Required(environment, $"services__{other.Name}__http__0").Value!;
            var uri = new Uri(address);
            var route = rendering.Route(uri.Host, uri.Port);
            route.ShouldNotBeNull($"{overlay}: {address} reaches no workload");
            route.Value.Workload.Name.ShouldBe(other.Name, $"{overlay}: {address}");
            HttpPort(route.Value.Container).ShouldBe(listening.Groups["port"].Value, $"{overlay}: {address} reaches {other.Name}'s http port");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays.All), MemberType = typeof(Overlays))]
    public void keep_connection_strings_passwords_and_keys_in_secrets(string overlay)
    {
        var rendering = Overlays.Render(overlay);
        foreach (var configMap in rendering.OfKind("ConfigMap"))
        {
            foreach (var (key, value) in configMap.Data())
            {
                LooksSecret(key).ShouldBeFalse($"{overlay}: ConfigMap {configMap.Name} holds {key}, which belongs in a Secret");
                HoldsPassword(value).ShouldBeFalse($"{overlay}: ConfigMap {configMap.Name}'s {key} holds a password");
            }
        }
        foreach (var workload in rendering.Workloads())
        {
            foreach (var container in workload.Containers())
            {
                foreach (var setting in rendering.Environment(container).Values)
                {
                    if (setting.Source == SettingSource.Plain)
                        HoldsPassword(setting.Value!).ShouldBeFalse($"{overlay}: {workload}'s {setting.Name} holds a password in plain sight");
                    if (LooksSecret(setting.Name))
                        setting.Source.ShouldBe(SettingSource.Secret, $"{overlay}: {workload}'s {setting.Name} must come from a Secret");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays.All), MemberType = typeof(Overlays))]
    public void refer_only_to_secrets_and_config_maps_that_exist_or_that_the_operator_creates(string overlay)
    {
        var rendering = Overlays.Render(overlay);
        var guide = Repository.Read("docs", "deployment.md");
        foreach (var (workload, name, key, _) in rendering.SecretReferences())
        {
            if (rendering.Find("Secret", name) is { } secret)
            {
                if (key is not null) secret.Data().ContainsKey(key).ShouldBeTrue($"{overlay}: {workload} reads key {key} of Secret {name}");
                continue;
            }
            // Not in the rendering: docs/deployment.md must show the operator how to create it.
            var command = Regex.Match(guide, $@"create secret generic {Regex.Escape(name)}\b(?:[^\n]*\\\n)*[^\n]*");
            command.Success.ShouldBeTrue($"{overlay}: {workload} refers to Secret {name}, which the overlay does not create and docs/deployment.md does not tell the operator to create");
            if (key is not null)
                command.Value.ShouldContain($"--from-literal={key}=", Case.Sensitive, $"{overlay}: docs/deployment.md's command for Secret {name} gives it no key {key}, which {workload} reads");
        }
        foreach (var (workload, name, key, optional) in rendering.ConfigMapReferences())
        {
            var configMap = rendering.Find("ConfigMap", name);
            if (configMap is null && optional) continue;
            configMap.ShouldNotBeNull($"{overlay}: {workload} refers to ConfigMap {name}, which does not exist");
            if (key is not null) configMap.Data().ContainsKey(key).ShouldBeTrue($"{overlay}: {workload} reads key {key} of ConfigMap {name}");
        }
    }

    [Theory]
    [MemberData(nameof(Services.EveryOverlayAndService), MemberType = typeof(Services))]
    public void probe_the_health_endpoints_the_service_maps(string overlay, string service)
    {
        var container = Overlays.Render(overlay).Container(service);
        // MapDefaultEndpoints maps ServiceDefaultsExtensions.AlivePath and HealthPath.
        Repository.Read("services", service, "Program.cs").ShouldContain("app.MapDefaultEndpoints();", Case.Sensitive, $"{service} maps /alive and /health");

        ProbePath(container, "livenessProbe").ShouldBe(ServiceDefaultsExtensions.AlivePath, $"{overlay}/{service}: liveness asks whether the process answers, not whether its dependencies do");
        ProbePath(container, "readinessProbe").ShouldBe(ServiceDefaultsExtensions.HealthPath, $"{overlay}/{service}: readiness asks whether PostgreSQL and Kafka are reachable");
        if (container.ContainsKey("startupProbe")) ProbePath(container, "startupProbe").ShouldBe(ServiceDefaultsExtensions.AlivePath);
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" }.Where(container.ContainsKey))
        {
            var port = (string)Kustomizer.Map(Kustomizer.Map(container, probe), "httpGet")!["port"]!;
            (port == "http" || port == HttpPort(container)).ShouldBeTrue($"{overlay}/{service}: {probe} asks port {port}, not the http port");
        }
    }

    [Theory]
    [MemberData(nameof(Services.EveryOverlayAndService), MemberType = typeof(Services))]
    public void runs_the_image_its_project_publishes_as_that_image_user(string overlay, string service)
    {
        var image = ContainerSettings.Of(service);
        var rendering = Overlays.Render(overlay);
        var container = rendering.Container(service);
        var (repository, tag) = ImageReference.Split((string)container["image"]!);

        (repository == image.Repository || repository.EndsWith("/" + image.Repository, StringComparison.Ordinal))
            .ShouldBeTrue($"{overlay}/{service} runs {repository}, not the {image.Repository} its project publishes (under some registry)");
        tag.ShouldNotBeNullOrEmpty($"{overlay}/{service}: the image has a tag");
        if (repository == image.Repository) image.Tags.ShouldContain(tag!, $"{overlay}/{service}: a locally published image carries tag {tag}");
        if (overlay == "prod") tag.ShouldNotBe("latest", $"{overlay}/{service}: production runs a version, not whatever latest is");

        image.Ports.ShouldContain(HttpPort(container), $"{service}'s image exposes the container port");
        image.Environment.GetValueOrDefault("ASPNETCORE_HTTP_PORTS").ShouldBe(HttpPort(container), $"{service}'s image listens on the container port");

        var security = Kustomizer.Map(rendering.Deployment(service).PodSpec(), "securityContext");
        security.ShouldNotBeNull();
        security["runAsNonRoot"].ShouldBe("true");
        security["runAsUser"].ShouldBe(image.User, $"{overlay}/{service} runs as the image's user");

        var resources = Kustomizer.Map(container, "resources");
        foreach (var kind in new[] { "requests", "limits" })
            foreach (var resource in new[] { "cpu", "memory" })
                (Kustomizer.Map(resources, kind)?.GetValueOrDefault(resource)).ShouldNotBeNull($"{overlay}/{service}: resources.{kind}.{resource}");
    }

    private static Setting Required(IReadOnlyDictionary<string, Setting> environment, string name)
    {
        environment.ContainsKey(name).ShouldBeTrue($"the container gets no {name}");
        return environment[name];
    }

    private static string? ProbePath(Dictionary<string, object?> container, string probe) =>
        Kustomizer.Map(Kustomizer.Map(container, probe), "httpGet")?.GetValueOrDefault("path") as string;

    private static string HttpPort(Dictionary<string, object?> container) =>
        (string)Kustomizer.Maps(container, "ports").Single(p => (string?)p.GetValueOrDefault("name") == "http")["containerPort"]!;

    /// <summary>Settings that carry credentials: database connection strings, passwords, keys, tokens.</summary>
    private static bool LooksSecret(string name) =>
        (name.StartsWith("ConnectionStrings__", StringComparison.Ordinal) && name != "ConnectionStrings__kafka")
        || SecretName().IsMatch(name);

    private static bool HoldsPassword(string value) => PasswordInValue().IsMatch(value);

    [GeneratedRegex("password|passwd|apikey|api-key|secret|token", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"(password|pwd)\s*=\s*[^;$\s]", RegexOptions.IgnoreCase)]
    private static partial Regex PasswordInValue();

    [GeneratedRegex(@":(?<port>\d+)/?$")]
    private static partial Regex ListeningPort();
}
