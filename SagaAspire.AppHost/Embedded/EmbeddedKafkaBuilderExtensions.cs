using System.Globalization;
using System.Net.Http.Json;
using SagaAspire.AppHost.Kafka;

namespace SagaAspire.AppHost.Embedded;

public static class EmbeddedKafkaBuilderExtensions
{
    /// <summary>
    /// The embedded Kafka-protocol broker, with <paramref name="topics"/> created up front with
    /// <paramref name="partitions"/> partitions each (others are created on first use).
    /// </summary>
    public static IResourceBuilder<EmbeddedKafkaResource> AddEmbeddedKafka(this IDistributedApplicationBuilder builder, [ResourceName] string name,
        IEnumerable<string> topics, int partitions = 4)
    {
        string[] arguments = ["--partitions", partitions.ToString(CultureInfo.InvariantCulture), .. topics.SelectMany(t => new[] { "--topic", t })];
        return builder.AddResource(new EmbeddedKafkaResource(name))
            .WithServerArguments("kafka", arguments)
            // Not proxied: Aspire's proxy would accept connections before the broker listens, and
            // the health check would pass too early.
            .WithEndpoint(name: EmbeddedKafkaResource.PrimaryEndpointName, scheme: "tcp", env: "KAFKA_PORT", isProxied: false)
            .WithHttpEndpoint(name: EmbeddedKafkaResource.ControlEndpointName, env: "CONTROL_PORT", isProxied: false)
            .WithUrlForEndpoint(EmbeddedKafkaResource.ControlEndpointName, url => url.DisplayText = "broker state (control API)")
            .WithIconName("MailMultiple")
            .WithKafkaHealthCheck()
            .ExcludeFromManifest();
    }

    /// <summary>
    /// A dashboard command that takes the broker down for <paramref name="duration"/>: connections
    /// closed, none served, every message kept. Orders are still accepted meanwhile (they wait in
    /// the order service's outbox), and every saga resumes when the broker is back.
    /// </summary>
    public static IResourceBuilder<EmbeddedKafkaResource> WithBrokerOutageCommand(this IResourceBuilder<EmbeddedKafkaResource> builder, TimeSpan duration)
    {
        var seconds = (int)duration.TotalSeconds;
        return builder.WithCommand("broker-outage", "Broker outage", async context =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var control = builder.Resource.ControlEndpoint.Url;
            using var response = await http.PostAsync(new Uri($"{control}/outage?seconds={seconds.ToString(CultureInfo.InvariantCulture)}"), content: null, context.CancellationToken);
            if (!response.IsSuccessStatusCode)
                return CommandResults.Failure($"The broker's control endpoint answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(context.CancellationToken)}");
            var state = await response.Content.ReadFromJsonAsync<BrokerState>(context.CancellationToken);
            return CommandResults.Success($"The broker is down for {seconds} s, until {state?.DownUntil:HH:mm:ss} UTC; every message is kept. Orders are still accepted, and the sagas resume once it is back.");
        }, new CommandOptions
        {
            Description = $"Takes the broker down for {seconds} s (connections closed, messages kept), to watch the sagas wait and resume.",
            IconName = "PlugDisconnected",
            UpdateState = Dashboard.EnabledWhileRunning,
        });
    }

    private sealed record BrokerState(bool Up, DateTimeOffset? DownUntil, string Broker);
}
