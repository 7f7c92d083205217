using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SagaAspire.Messaging;

/// <summary>
/// The inbox consumer's part of the service's readiness: ready once its group has given it its
/// first assignment. A consumer joining a group gets its partitions only after the group's
/// rebalance, some 3 s after the start on the embedded broker (Kafka's own brokers delay a new
/// group's first rebalance by 3 s too), and until then every message to the service waits; a
/// service that reported ready before that made the first saga after a start wait too.
/// Later rebalances (a replica joining or leaving) leave it ready: the consumer is still there
/// and gets its partitions back within the rebalance, and pulling every replica out of service
/// while the group settles would help nobody. An empty assignment counts (more replicas than
/// partitions), and a service without message handlers has no consumer to wait for.
/// </summary>
internal sealed class ConsumerReadiness(MessageHandlers handlers) : IHealthCheck
{
    private volatile bool _assigned;

    public void Assigned() => _assigned = true;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_assigned || handlers.Topics.Count == 0
            ? HealthCheckResult.Healthy("the consumer has its partitions")
            : HealthCheckResult.Unhealthy("the consumer waits for its group's first assignment"));
}
