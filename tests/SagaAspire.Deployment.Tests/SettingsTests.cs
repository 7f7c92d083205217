using System.Reflection;
using System.Text.RegularExpressions;

namespace SagaAspire.Deployment.Tests;

/// <summary>
/// The other direction of the contract: a setting given to a service is one its code reads. A
/// misspelt key (Messaging__TopicPartiton) is otherwise silently ignored.
/// </summary>
public sealed partial class every_setting_given_to_a_service
{
    [Theory]
    [MemberData(nameof(Services.EveryOverlayAndService), MemberType = typeof(Services))]
    public void is_one_its_code_reads(string overlay, string service)
    {
        var rendering = Overlays.Render(overlay);
        var environment = rendering.Environment(rendering.Container(service));
        var sections = OptionsSections(service);
        var expanded = environment.Values.Where(s => s.Source == SettingSource.Plain)
            .SelectMany(s => Expansion().Matches(s.Value!).Select(m => m.Groups["name"].Value)).ToHashSet(StringComparer.Ordinal);

        foreach (var name in environment.Keys)
        {
            var parts = name.Split("__");
            var read = parts[0] switch
            {
                _ when name.StartsWith("OTEL_", StringComparison.Ordinal) || name.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || name.StartsWith("DOTNET_", StringComparison.Ordinal) => true,
                "ConnectionStrings" => parts.Length == 2 && (parts[1] == "kafka" || parts[1] == Services.Named(service).Database),
                "services" => parts.Length == 4 && Services.All.Any(s => s.Name == parts[1]),
                "Kafka" => parts.Length == 3 && parts[1] is "Client" or "Producer" or "Consumer",
                "Logging" => true,
                _ when name == ApiKeySetting => true,
                _ when sections.TryGetValue(parts[0], out var options) => parts.Length >= 2
                    && options.Any(o => o.GetProperty(parts[1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.CanWrite == true),
                // Only there to be expanded into another setting, as $(POD_NAME).
                _ => expanded.Contains(name),
            };
            read.ShouldBeTrue($"{overlay}/{service} is given {name}, which no code of {service} reads (a misspelt key, or a setting meant for another service?)");
        }
    }

    /// <summary>
    /// Options classes of the service and of the messaging library, by their configuration
    /// section; several classes may bind parts of one section (the order service's Orders).
    /// </summary>
    private static Dictionary<string, List<Type>> OptionsSections(string service)
    {
        var assemblies = new[] { Assembly.Load(Path.GetFileNameWithoutExtension(Services.Named(service).Project)), typeof(Microsoft.Extensions.Hosting.MessagingExtensions).Assembly };
        return assemblies.SelectMany(a => a.GetTypes())
            .Select(t => (Type: t, Field: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)))
            .Where(x => x.Field is { IsLiteral: true } && x.Field.FieldType == typeof(string))
            .GroupBy(x => (string)x.Field!.GetRawConstantValue()!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Type).ToList(), StringComparer.OrdinalIgnoreCase);
    }

    private static readonly string ApiKeySetting = SagaAspire.Messaging.DeadLetterApi.ApiKeySetting.Replace(":", "__", StringComparison.Ordinal);

    [GeneratedRegex(@"\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Expansion();
}
