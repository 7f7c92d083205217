using System.Globalization;
using SagaAspire.Deployment.Tests.Kustomize;

namespace SagaAspire.Deployment.Tests;

public sealed class the_container_images
{
    public static TheoryData<string> EveryService() => [.. Services.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(EveryService))]
    public void are_named_after_the_service_and_run_as_a_non_root_user_on_a_chiseled_base(string service)
    {
        var image = ContainerSettings.Of(service);
        image.Repository.ShouldBe($"sagaaspire/{service}");
        image.BaseImage.ShouldStartWith("mcr.microsoft.com/dotnet/aspnet:");
        image.BaseImage.ShouldContain("chiseled", Case.Sensitive, "no shell, no package manager, non-root by default");
        // Numeric, so that Kubernetes can check runAsNonRoot; and not root's 0.
        int.TryParse(image.User, NumberStyles.None, CultureInfo.InvariantCulture, out var user).ShouldBeTrue($"ContainerUser '{image.User}' is a number");
        user.ShouldBeGreaterThan(0);
        image.Ports.ShouldBe(["8080"]);
        image.Tags.ShouldContain("latest");
    }

    [Fact]
    public void are_the_ones_the_base_manifests_run()
    {
        var images = Kustomizer.Render(Repository.PathOf("deploy", "k8s", "base"))
            .Where(r => r.Kind == "Deployment")
            .ToDictionary(r => r.Name, r => (string)r.Containers().Single()["image"]!);
        images.Keys.ShouldBe(Services.All.Select(s => s.Name), ignoreOrder: true);
        foreach (var service in Services.All) images[service.Name].ShouldBe(ContainerSettings.Of(service.Name).Repository);
    }
}
