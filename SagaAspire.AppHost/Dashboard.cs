namespace SagaAspire.AppHost;

/// <summary>The Aspire dashboard as a resource of the running app model (it is there while the dashboard is enabled).</summary>
internal static class Dashboard
{
    private const string ResourceName = "aspire-dashboard";

    /// <summary>The dashboard's browser address (https when it has one), or null when no dashboard runs.</summary>
    public static async Task<string?> UrlAsync(DistributedApplicationModel model, CancellationToken cancellationToken)
    {
        if (model.Resources.FirstOrDefault(r => r.Name == ResourceName) is not IResourceWithEndpoints dashboard) return null;
        var endpoint = dashboard.GetEndpoints().FirstOrDefault(e => e.EndpointName == "https") is { Exists: true } https ? https : dashboard.GetEndpoint("http");
        return endpoint.Exists ? await endpoint.GetValueAsync(cancellationToken) : null;
    }

    /// <summary>For a command's UpdateState: enabled while its resource runs.</summary>
    public static ResourceCommandState EnabledWhileRunning(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.State?.Text == KnownResourceStates.Running ? ResourceCommandState.Enabled : ResourceCommandState.Disabled;
}
