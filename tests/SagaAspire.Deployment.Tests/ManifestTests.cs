using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SagaAspire.Deployment.Tests;

/// <summary>
/// The Aspire manifest, the input aspirate reads, generated from the AppHost in publish mode the
/// way aspirate generates it, checked against deploy/k8s: the same services, images, connection
/// names and settings, so the two cannot drift apart.
/// </summary>
public sealed partial class the_aspire_manifest
{
    private static readonly Lazy<JsonElement> Generated = new(Generate);
    private static JsonElement Resources => Generated.Value.GetProperty("resources");

    /// <summary>The settings a service reads that the AppHost gives it (the rest of the manifest's env is Aspire's own).</summary>
    private static bool IsContractSetting(string name) =>
        name.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || name.StartsWith("services__", StringComparison.Ordinal) || name == "Operations__ApiKey";

    [Fact]
    public void names_the_services_the_manifests_run()
    {
        Projects().Select(p => p.Name).ShouldBe(Services.All.Select(s => s.Name), ignoreOrder: true);
        Kustomize.Kustomizer.Render(Repository.PathOf("deploy", "k8s", "base")).Where(r => r.Kind == "Deployment").Select(d => d.Name)
            .ShouldBe(Projects().Select(p => p.Name), ignoreOrder: true);
        foreach (var overlay in Overlays.Names)
            Overlays.Render(overlay).OfKind("Deployment").Select(d => d.Name)
                .ShouldBe([.. Projects().Select(p => p.Name), .. overlay == "dev" ? new[] { "aspire-dashboard" } : []], ignoreOrder: true);
    }

    [Fact]
    public void builds_each_service_from_the_project_whose_image_the_manifests_run()
    {
        var images = Kustomize.Kustomizer.Render(Repository.PathOf("deploy", "k8s", "base"))
            .Where(r => r.Kind == "Deployment")
            .ToDictionary(r => r.Name, r => (string)r.Containers().Single()["image"]!);
        foreach (var (name, project) in Projects())
        {
            var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ManifestPath)!, project.GetProperty("path").GetString()!));
            path.ShouldBe(Services.Named(name).Project, $"{name}: the project the manifest builds");
            images[name].ShouldBe(ContainerSettings.Of(name).Repository, $"{name}: the image deploy/k8s runs is the one its project makes");
        }
    }

    [Theory]
    [MemberData(nameof(Services.EveryOverlayAndService), MemberType = typeof(Services))]
    public void gives_each_service_no_setting_the_overlays_do_not(string overlay, string service)
    {
        var rendering = Overlays.Render(overlay);
        var provided = rendering.Environment(rendering.Container(service)).Keys.ToHashSet();
        var manifest = Project(service).GetProperty("env").EnumerateObject().Select(e => e.Name).Where(IsContractSetting).ToList();

        manifest.ShouldContain("ConnectionStrings__kafka");
        manifest.ShouldContain($"ConnectionStrings__{Services.Named(service).Database}");
        manifest.Where(name => !provided.Contains(name)).ShouldBeEmpty($"{overlay}/{service}: what the AppHost gives it, deploy/k8s gives it too");
    }

    [Fact]
    public void hands_each_service_its_own_database_under_the_name_it_reads()
    {
        foreach (var service in Services.All)
        {
            var reference = Project(service.Name).GetProperty("env").GetProperty($"ConnectionStrings__{service.Database}").GetString()!;
            var database = Reference().Match(reference) is { Success: true } match ? match.Groups["resource"].Value : throw new ShouldAssertException($"{service.Name}: '{reference}' names no resource");
            Resources.GetProperty(database).GetProperty("connectionString").GetString().ShouldEndWith($";Database={service.Database}",
                customMessage: $"{service.Name}'s ConnectionStrings__{service.Database} is database {service.Database}");
        }
    }

    [Fact]
    public void runs_kafka_and_postgresql_with_the_databases_the_dev_overlay_creates()
    {
        // Kafka: a broker container whose bootstrap servers are its tcp binding, on the port the
        // dev overlay's broker listens on (the images differ: the AppHost runs confluent-local, the dev overlay apache/kafka).
        var kafka = Resources.GetProperty("kafka");
        kafka.GetProperty("type").GetString().ShouldBe("container.v0");
        kafka.GetProperty("connectionString").GetString().ShouldBe("{kafka.bindings.tcp.host}:{kafka.bindings.tcp.port}");
        var port = kafka.GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32();
        var dev = Overlays.Render("dev");
        dev.Environment(dev.Container("order"))["ConnectionStrings__kafka"].Value!.ShouldEndWith($":{port}");
        Resources.GetProperty("postgres").GetProperty("image").GetString()!.ShouldContain("postgres");
        var databases = Resources.EnumerateObject()
            .Where(r => r.Value.TryGetProperty("connectionString", out var cs) && cs.GetString()!.StartsWith("{postgres.connectionString};Database=", StringComparison.Ordinal))
            .Select(r => r.Value.GetProperty("connectionString").GetString()!.Split("Database=")[1]).ToList();
        var job = dev.OfKind("Job").Single(j => j.Name == "create-databases");
        var created = dev.Environment(job.Containers().Single())["DATABASES"].Value!.Split(' ');
        databases.ShouldBe(created, ignoreOrder: true);
        databases.ShouldBe(Services.All.Select(s => s.Database), ignoreOrder: true);
    }

    [Fact]
    public void keeps_the_operator_key_and_the_database_password_secret()
    {
        foreach (var parameter in new[] { "operator-api-key", "postgres-password" })
            Resources.GetProperty(parameter).GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean().ShouldBeTrue(parameter);
    }

    private static IEnumerable<(string Name, JsonElement Resource)> Projects() =>
        Resources.EnumerateObject().Where(r => r.Value.GetProperty("type").GetString()!.StartsWith("project.", StringComparison.Ordinal)).Select(r => (r.Name, r.Value));

    private static JsonElement Project(string name) => Projects().Single(p => p.Name == name).Resource;

    private static readonly string ManifestPath = Path.Combine(Path.GetTempPath(), $"sagaaspire-manifest-{Guid.NewGuid():N}", "aspire-manifest.json");

    private static JsonElement Generate()
    {
        var configuration = typeof(the_aspire_manifest).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var apphost = Repository.PathOf("SagaAspire.AppHost", "bin", configuration, "net10.0", "SagaAspire.AppHost");
        Tools.Run(apphost, "--publisher", "manifest", "--output-path", ManifestPath);
        using var document = JsonDocument.Parse(File.ReadAllText(ManifestPath));
        return document.RootElement.Clone();
    }

    [GeneratedRegex(@"^\{(?<resource>[^.}]+)\.connectionString\}$")]
    private static partial Regex Reference();
}
