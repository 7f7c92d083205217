namespace SagaAspire.Scenarios;

/// <summary>
/// A running SagaAspire system, whichever host started it: the DevHost (processes on this
/// machine) or the Aspire AppHost (containers, through Aspire.Hosting.Testing).
/// </summary>
public interface ISagaHost : IAsyncDisposable
{
    /// <summary>An HTTP client for a service: order, orchestrator, inventory or payment.</summary>
    HttpClient Client(string service);
}
