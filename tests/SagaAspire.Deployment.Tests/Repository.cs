namespace SagaAspire.Deployment.Tests;

/// <summary>The source tree the tests read: manifests, projects and docs.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "SagaAspire.sln"))) return directory.FullName;
        throw new InvalidOperationException("SagaAspire.sln not found above " + AppContext.BaseDirectory);
    }
}
