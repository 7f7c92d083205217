using System.Reflection;

namespace SagaAspire.AppHost.Embedded;

/// <summary>
/// src/SagaAspire.Embedded.Server, built with the AppHost (a project reference that is neither an
/// Aspire project resource nor a library of the AppHost), run as <c>dotnet SagaAspire.Embedded.Server.dll</c>.
/// Its path is written into the AppHost's assembly at build time.
/// </summary>
internal static class EmbeddedServerProgram
{
    public static string Path { get; } =
        typeof(EmbeddedServerProgram).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "SagaAspire.EmbeddedServer")?.Value
        ?? throw new InvalidOperationException("The AppHost was built without the embedded server's path (AssemblyMetadata SagaAspire.EmbeddedServer).");

    public static string Directory => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>A resource running <c>dotnet SagaAspire.Embedded.Server.dll &lt;server&gt; [arguments]</c>.</summary>
    public static IResourceBuilder<T> WithServerArguments<T>(this IResourceBuilder<T> builder, string server, params IEnumerable<string> arguments) where T : ExecutableResource
    {
        if (!File.Exists(Path))
            throw new SettingException($"The embedded server is not built ({Path} is missing): build the solution (./build.sh build), or run through ./build.sh run, which builds first.");
        return builder.WithArgs([Path, server, .. arguments]);
    }
}
