using SagaAspire.Deployment.Tests.Kustomize;

namespace SagaAspire.Deployment.Tests;

public sealed class the_test_renderer
{
    [KubectlFact]
    public void renders_each_overlay_exactly_as_kubectl_kustomize_does()
    {
        foreach (var overlay in Overlays.Names)
        {
            var expected = Yaml.ReadDocuments(Tools.Run("kubectl", "kustomize", Overlays.Directory(overlay))).Select(d => new Resource(d)).ToList();
            var actual = Kustomizer.Render(Overlays.Directory(overlay));

            actual.Select(Id).Order().ShouldBe(expected.Select(Id).Order(), $"the objects of overlay {overlay}");
            foreach (var resource in expected)
            {
                var ours = actual.Single(r => Id(r) == Id(resource));
                Yaml.Equal(ours.Object, resource.Object).ShouldBeTrue(
                    $"{overlay}: {Id(resource)} differs.\nkubectl kustomize:\n{Yaml.Show(resource.Object)}\nthe tests' renderer:\n{Yaml.Show(ours.Object)}");
            }
        }
    }

    [Fact]
    public void refuses_a_kustomization_field_it_does_not_implement()
    {
        var directory = Directory.CreateTempSubdirectory("sagaaspire-kustomize-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "kustomization.yaml"), "namePrefix: staging-\nresources: []\n");
            Should.Throw<NotSupportedException>(() => Kustomizer.Render(directory.FullName)).Message.ShouldContain("namePrefix");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string Id(Resource resource) => $"{resource.Kind}/{resource.Namespace}/{resource.Name}";
}
