using SagaAspire.Deployment.Tests.Kustomize;

namespace SagaAspire.Deployment.Tests;

/// <summary>deploy/k8s's overlays, each rendered once.</summary>
internal static class Overlays
{
    public static readonly string[] Names = ["dev", "prod"];

    private static readonly Dictionary<string, Lazy<Rendering>> Renderings =
        Names.ToDictionary(n => n, n => new Lazy<Rendering>(() => new Rendering(n, Kustomizer.Render(Directory(n)))));

    public static string Directory(string overlay) => Repository.PathOf("deploy", "k8s", "overlays", overlay);

    public static Rendering Render(string overlay) => Renderings[overlay].Value;

    public static TheoryData<string> All() => [.. Names];
}
