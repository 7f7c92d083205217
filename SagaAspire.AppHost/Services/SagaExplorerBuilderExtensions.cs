using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SagaAspire.AppHost.Services;

internal static class SagaExplorerBuilderExtensions
{
    private const string DashboardResourceName = "aspire-dashboard";

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
                var model = services.GetRequiredService<DistributedApplicationModel>();
                if (model.Resources.FirstOrDefault(r => r.Name == DashboardResourceName) is not IResourceWithEndpoints dashboard) return;
                var endpoint = dashboard.GetEndpoints().FirstOrDefault(e => e.EndpointName == "https") is { Exists: true } https ? https : dashboard.GetEndpoint("http");
                if (!endpoint.Exists) return;
                context.EnvironmentVariables["Explorer__DashboardUrl"] = await endpoint.GetValueAsync(context.CancellationToken) ?? "";
                if (services.GetRequiredService<IConfiguration>()["AppHost:DashboardApiKey"] is { Length: > 0 } key)
                    context.EnvironmentVariables["Explorer__DashboardApiKey"] = key;
            });
}
