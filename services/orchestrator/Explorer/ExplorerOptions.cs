namespace SagaAspire.Orchestrator.Explorer;

/// <summary>Where the Saga Explorer finds traces, bound from the <c>Explorer</c> section.</summary>
public sealed class ExplorerOptions
{
    public const string Section = "Explorer";

    /// <summary>
    /// A trace store answering <c>GET {TraceStore}/traces/{traceId}</c> with a waterfall (the
    /// DevHost's OTLP receiver). The Explorer draws each saga's trace from it.
    /// </summary>
    public Uri? TraceStore { get; set; }

    /// <summary>The Aspire dashboard. The Explorer links each saga to its trace there.</summary>
    public Uri? DashboardUrl { get; set; }
}
