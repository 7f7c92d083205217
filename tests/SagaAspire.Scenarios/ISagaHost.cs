namespace SagaAspire.Scenarios;

/// <summary>
/// A running SagaAspire system, started through the AppHost on whichever infrastructure: the
/// embedded one, your own servers (existing), or containers.
/// </summary>
public interface ISagaHost : IAsyncDisposable
{
    /// <summary>An HTTP client for a service: order, orchestrator, inventory, payment or delivery.</summary>
    HttpClient Client(string service);
}
