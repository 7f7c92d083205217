using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SagaAspire.AppHost;

/// <summary>
/// Says which infrastructure the AppHost chose and why, and, once every service answers its
/// health check, where everything is and how to place a first order.
/// </summary>
internal sealed class StartupSummary(SagaAspireSettings settings, DistributedApplicationModel model, ResourceNotificationService notifications,
    IConfiguration configuration, ILogger<StartupSummary> logger, IHostApplicationLifetime lifetime) : BackgroundService
{
    public const string OperatorKeyParameter = "operator-api-key";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Infrastructure: {Infrastructure} ({Reason}).", settings.Infrastructure.ToString().ToLowerInvariant(), settings.Reason);
        try
        {
            foreach (var service in SagaAspireSettings.Services)
                await notifications.WaitForResourceHealthyAsync(service, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var lines = new List<string> { "", "SagaAspire is running.", "" };
        if (await DashboardLoginAsync(stoppingToken) is { } dashboard) lines.Add($"  {"Aspire dashboard",-22} {dashboard}");
        var order = await UrlAsync("order", stoppingToken);
        var orchestrator = await UrlAsync("orchestrator", stoppingToken);
        lines.AddRange(
        [
            $"  {"Saga Explorer",-22} {orchestrator}/explorer/",
            $"  {"order API",-22} {order}/orders",
            $"  {"orchestrator (sagas)",-22} {orchestrator}/sagas",
            $"  {"inventory",-22} {await UrlAsync("inventory", stoppingToken)}/inventory",
            $"  {"payment",-22} {await UrlAsync("payment", stoppingToken)}/payments",
            $"  {"delivery",-22} {await UrlAsync("delivery", stoppingToken)}/deliveries",
            $"  {"infrastructure",-22} {Describe()}",
        ]);
        if (model.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == OperatorKeyParameter) is { } parameter
            && await parameter.GetValueAsync(stoppingToken) is { Length: > 0 } key)
            lines.Add($"  {"operator key",-22} {key}   (X-Api-Key for retry, cancel and replay)");
        lines.AddRange(
        [
            "",
            "Place an order:",
            $"  curl -si {order}/orders -H 'Content-Type: application/json' \\",
            "    -d '{\"orderId\":\"o-1001\",\"sku\":\"ABC\",\"quantity\":2,\"amount\":149.99,\"currency\":\"USD\"}'",
            "Then follow it in the Saga Explorer or the dashboard's Traces page, or:",
            $"  curl -s {order}/orders/o-1001",
            $"  curl -s '{orchestrator}/sagas?orderId=o-1001'",
            "",
            "Press Ctrl+C to stop.",
            "",
        ]);
        if (!lifetime.ApplicationStopping.IsCancellationRequested) Console.Out.WriteLine(string.Join(Environment.NewLine, lines));
    }

    private string Describe() => settings.Infrastructure switch
    {
        Infrastructure.Embedded => $"embedded: PostgreSQL from this machine's binaries (data in {(settings.PersistData ? settings.DataDirectory : "a temporary folder")}), the Kafka-protocol broker in memory",
        Infrastructure.Containers => "containers: PostgreSQL and Kafka" + (settings.PersistData ? ", data in volumes" : ""),
        _ => "existing: your Kafka cluster and PostgreSQL server (ConnectionStrings:kafka, ConnectionStrings:postgres)",
    };

    private async Task<string?> UrlAsync(string service, CancellationToken cancellationToken)
    {
        var resource = model.Resources.OfType<ProjectResource>().Single(r => r.Name == service);
        return await resource.GetEndpoint("http").GetValueAsync(cancellationToken);
    }

    private async Task<string?> DashboardLoginAsync(CancellationToken cancellationToken)
    {
        if (await Dashboard.UrlAsync(model, cancellationToken) is not { } url) return null;
        return configuration["AppHost:BrowserToken"] is { Length: > 0 } token ? $"{url}/login?t={Uri.EscapeDataString(token)}" : url;
    }
}
