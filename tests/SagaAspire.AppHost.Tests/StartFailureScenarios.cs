using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// A system that cannot start says so at once: a service given a setting it cannot read stops,
/// and the start fails naming the service and the setting, instead of waiting for its health.
/// </summary>
public sealed class a_system_that_cannot_start
{
    [Fact]
    public async Task fails_at_once_naming_the_service_that_stopped_and_why()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(
            [
                "--environment=Development",
                "--SagaAspire:Infrastructure=embedded",
                "--SagaAspire:PersistData=false",
                "--Parameters:operator-api-key=start-failure-tests-key",
            ],
            timeout.Token);
        // No dashboard here, so nothing receives telemetry: the services export none.
        foreach (var service in AppHostFixture.Services)
            builder.CreateResourceBuilder<ProjectResource>(service).WithEnvironment("OTEL_SDK_DISABLED", "true");
        builder.CreateResourceBuilder<ProjectResource>("orchestrator").WithEnvironment("Orchestrator__StepTimeout", "ten seconds");
        await using var app = await builder.BuildAsync(timeout.Token);

        var failure = await Should.ThrowAsync<SystemDidNotStartException>(app.StartHealthyAsync(AppHostFixture.Services, timeout.Token));

        failure.Message.ShouldStartWith("The system did not start: orchestrator");
        failure.Message.ShouldContain("Orchestrator:StepTimeout", customMessage: "the service's own error, naming the setting, is in the message");
        timeout.IsCancellationRequested.ShouldBeFalse("it failed when the service stopped, not when the time ran out");
    }
}
