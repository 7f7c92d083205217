using System.Text.Json;
using System.Text.RegularExpressions;

namespace SagaAspire.Deployment.Tests;

/// <summary>A service as its code declares it: its name (the AppHost's resource name and its folder) and its database.</summary>
internal sealed record ServiceInfo(string Name, string Database, string Project);

/// <summary>What the code says about the services, read from the source tree rather than restated here.</summary>
internal static partial class Services
{
    /// <summary>services/&lt;name&gt;/SagaAspire.*.csproj, each with the database its <c>AddMessaging(service, database)</c> names.</summary>
    public static IReadOnlyList<ServiceInfo> All { get; } = Discover();

    public static TheoryData<string, string> EveryOverlayAndService()
    {
        var data = new TheoryData<string, string>();
        foreach (var overlay in Overlays.Names)
            foreach (var service in All) data.Add(overlay, service.Name);
        return data;
    }

    public static ServiceInfo Named(string name) => All.Single(s => s.Name == name);

    private static List<ServiceInfo> Discover()
    {
        var services = new List<ServiceInfo>();
        foreach (var project in Directory.GetFiles(Repository.PathOf("services"), "SagaAspire.*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var folder = Path.GetDirectoryName(project)!;
            var name = Path.GetFileName(folder);
            var calls = Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .SelectMany(f => AddMessaging().Matches(File.ReadAllText(f)))
                .ToList();
            if (calls.Count != 1) throw new InvalidDataException($"{name}: expected one AddMessaging(service, database) call, found {calls.Count}");
            calls[0].Groups["service"].Value.ShouldBe(name, $"the service in {name}'s AddMessaging call is its folder's name");
            services.Add(new ServiceInfo(name, calls[0].Groups["database"].Value, project));
        }
        if (services.Count == 0) throw new InvalidDataException("no services found under services/");
        return services;
    }

    [GeneratedRegex("""AddMessaging\(\s*"(?<service>[^"]+)"\s*,\s*"(?<database>[^"]+)"\s*\)""")]
    private static partial Regex AddMessaging();
}

/// <summary>A service's container image settings, as MSBuild evaluates its project (services/Directory.Build.props and .targets).</summary>
internal sealed record ContainerSettings(string Repository, string BaseImage, string User, IReadOnlyList<string> Tags, IReadOnlyList<string> Ports, IReadOnlyDictionary<string, string> Environment)
{
    private static readonly Dictionary<string, Lazy<ContainerSettings>> Evaluated =
        Services.All.ToDictionary(s => s.Name, s => new Lazy<ContainerSettings>(() => Evaluate(s.Project)));

    public static ContainerSettings Of(string service) => Evaluated[service].Value;

    private static ContainerSettings Evaluate(string project)
    {
        var json = Tools.Run("dotnet", "msbuild", project, "-nologo",
            "-getProperty:ContainerRepository", "-getProperty:ContainerBaseImage", "-getProperty:ContainerUser",
            "-getProperty:ContainerImageTags", "-getItem:ContainerPort", "-getItem:ContainerEnvironmentVariable");
        using var document = JsonDocument.Parse(json);
        var properties = document.RootElement.GetProperty("Properties");
        var items = document.RootElement.GetProperty("Items");
        string Property(string name) => properties.GetProperty(name).GetString() ?? "";
        IEnumerable<JsonElement> Items(string name) => items.TryGetProperty(name, out var list) ? list.EnumerateArray() : [];
        return new ContainerSettings(
            Property("ContainerRepository"),
            Property("ContainerBaseImage"),
            Property("ContainerUser"),
            Property("ContainerImageTags").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            [.. Items("ContainerPort").Select(i => i.GetProperty("Identity").GetString()!)],
            Items("ContainerEnvironmentVariable").ToDictionary(i => i.GetProperty("Identity").GetString()!, i => i.GetProperty("Value").GetString()!));
    }
}
