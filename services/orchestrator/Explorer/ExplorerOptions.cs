namespace SagaAspire.Orchestrator.Explorer;

/// <summary>Where the Saga Explorer finds traces, bound from the <c>Explorer</c> section.</summary>
public sealed class ExplorerOptions
{
    public const string Section = "Explorer";

    /// <summary>
    /// The Aspire dashboard, as a browser reaches it. The Explorer links each saga to its trace
    /// there and, through the dashboard's telemetry API, draws the trace itself. The AppHost sets it.
    /// </summary>
    public Uri? DashboardUrl { get; set; }

    /// <summary>
    /// Where the orchestrator reaches the dashboard's telemetry API, when that is not where a
    /// browser does (in a cluster, say, where browsers come through a port-forward); by default
    /// <see cref="DashboardUrl"/>.
    /// </summary>
    public Uri? DashboardApiUrl { get; set; }

    /// <summary>The dashboard telemetry API's key (sent as <c>x-api-key</c>); none for a dashboard whose API is unsecured.</summary>
    public string? DashboardApiKey { get; set; }

    internal Uri? TelemetryApi => DashboardApiUrl ?? DashboardUrl;
}
