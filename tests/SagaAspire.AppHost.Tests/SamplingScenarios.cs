namespace SagaAspire.AppHost.Tests;

/// <summary>SagaAspire:TraceSampling: every saga traced by default, a share of them, whole, when set.</summary>
public sealed class the_trace_sampling_setting
{
    private static readonly string[] Services = ["order", "orchestrator", "inventory", "payment", "delivery"];

    [Fact]
    public async Task samples_whole_sagas_in_every_service_when_set()
    {
        using var model = await ModelEnvironment.PublishingAsync("--SagaAspire:TraceSampling=0.1");
        foreach (var service in Services)
        {
            var environment = await ModelEnvironment.OfAsync(model, model.Resources.OfType<ProjectResource>().Single(r => r.Name == service));
            environment["OTEL_TRACES_SAMPLER"].ShouldBe("parentbased_traceidratio", service);
            environment["OTEL_TRACES_SAMPLER_ARG"].ShouldBe("0.1", service);
        }
    }

    [Fact]
    public async Task leaves_the_sampler_to_aspire_by_default()
    {
        using var model = await ModelEnvironment.PublishingAsync();
        foreach (var service in Services)
        {
            var environment = await ModelEnvironment.OfAsync(model, model.Resources.OfType<ProjectResource>().Single(r => r.Name == service));
            environment.ShouldNotContainKey("OTEL_TRACES_SAMPLER_ARG", service);
        }
    }
}
