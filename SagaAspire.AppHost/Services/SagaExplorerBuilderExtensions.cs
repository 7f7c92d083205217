using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SagaAspire.AppHost.Services;

internal static class SagaExplorerBuilderExtensions
{
    /// <summary>
    /// The orchestrator's Saga Explorer: a link to it in the dashboard, and, while the dashboard
    /// runs, its address and telemetry API key, from which the Explorer draws each saga's trace
    /// and to which it links. A published manifest gets neither: no dashboard runs there.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSagaExplorer(this IResourceBuilder<ProjectResource> orchestrator) =>
        orchestrator
            .WithUrlForEndpoint("http", endpoint => new ResourceUrlAnnotation { Url = $"{endpoint.Url}/explorer/", DisplayText = "Saga Explorer" })
            .WithEnvironment(async context =>
            {
                if (!context.ExecutionContext.IsRunMode) return;
                var services = context.ExecutionContext.Services;
                if (await Dashboard.UrlAsync(services.GetRequiredService<DistributedApplicationModel>(), context.CancellationToken) is not { } dashboard) return;
                context.EnvironmentVariables["Explorer__DashboardUrl"] = dashboard;
                if (services.GetRequiredService<IConfiguration>()["AppHost:DashboardApiKey"] is { Length: > 0 } key)
                    context.EnvironmentVariables["Explorer__DashboardApiKey"] = key;
            });
}
