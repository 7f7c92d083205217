using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SagaAspire.AppHost.Kafka;

/// <summary>Asks the cluster behind a connection string for its metadata.</summary>
internal sealed class KafkaHealthCheck(IResourceWithConnectionString kafka) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var servers = await kafka.ConnectionStringExpression.GetValueAsync(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(servers)) return HealthCheckResult.Unhealthy("The bootstrap servers are not known yet.");
        // GetMetadata blocks its thread; the client's own log lines (one per refused connection)
        // would only repeat what the result says.
        return await Task.Run(() =>
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = servers, SocketTimeoutMs = (int)Timeout.TotalMilliseconds })
                .SetLogHandler((_, _) => { })
                .Build();
            try
            {
                var metadata = admin.GetMetadata(Timeout);
                return metadata.Brokers.Count > 0
                    ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {metadata.Topics.Count} topic(s) at {servers}")
                    : HealthCheckResult.Unhealthy($"No broker answered at {servers}.");
            }
            catch (KafkaException error)
            {
                return HealthCheckResult.Unhealthy($"No broker answered at {servers}: {error.Error.Reason}");
            }
        }, cancellationToken).ConfigureAwait(false);
    }
}
