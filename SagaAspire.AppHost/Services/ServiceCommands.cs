using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SagaAspire.AppHost.Services;

/// <summary>Dashboard commands that put the saga's robustness on show.</summary>
internal static class ServiceCommands
{
    /// <summary>The snapshot property holding an executable's process id (Aspire's KnownProperties is internal).</summary>
    private const string PidProperty = "executable.pid";

    /// <summary>
    /// "Kill (kill -9)": the service's process is killed outright, mid-whatever, then started
    /// again by Aspire. Its sagas carry on from what it had committed: nothing lost, nothing twice.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithKillCommand(this IResourceBuilder<ProjectResource> builder) =>
        builder.WithCommand("kill", "Kill (kill -9)", async context =>
        {
            var notifications = context.Services.GetRequiredService<ResourceNotificationService>();
            if (!notifications.TryGetCurrentState(context.ResourceName, out var current))
                return CommandResults.Failure($"{context.ResourceName} has no state yet.");
            if (current.Snapshot.Properties.FirstOrDefault(p => p.Name == PidProperty)?.Value is not { } value
                || !int.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var service))
                return CommandResults.Failure($"{context.ResourceName} has no process to kill (it is {current.Snapshot.State?.Text}).");

            context.Logger.LogWarning("Killing {Resource} (process {Pid}) with SIGKILL.", context.ResourceName, service);
            // The resource's process is the service itself (see WithBuiltExecutable).
            System.Diagnostics.Process.GetProcessById(service).Kill(entireProcessTree: false);
            await notifications.WaitForResourceAsync(builder.Resource.Name,
                e => e.ResourceId == context.ResourceName && e.Snapshot.State?.Text != KnownResourceStates.Running, context.CancellationToken);

            var commands = context.Services.GetRequiredService<ResourceCommandService>();
            var started = await commands.ExecuteCommandAsync(context.ResourceName, KnownResourceCommands.StartCommand, context.CancellationToken);
            return started.Success
                ? CommandResults.Success($"Killed {context.ResourceName} (process {service}) with SIGKILL, and started it again. Its sagas carry on from what it had committed.")
                : CommandResults.Failure($"Killed {context.ResourceName} (process {service}), but it did not start again: {started.Message}");
        }, new CommandOptions
        {
            Description = "Kills the service's process with SIGKILL (no shutdown, nothing flushed), then starts it again.",
            IconName = "Flash",
            IsHighlighted = false,
            UpdateState = Dashboard.EnabledWhileRunning,
        });

    /// <summary>"Retry sagas that need attention": the operator's retry, for every saga parked as NeedsAttention.</summary>
    public static IResourceBuilder<ProjectResource> WithRetryNeedsAttentionCommand(this IResourceBuilder<ProjectResource> builder, IResourceBuilder<ParameterResource> operatorKey) =>
        builder.WithCommand("retry-needs-attention", "Retry sagas that need attention", async context =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(builder.GetEndpoint("http").Url), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Add("X-Api-Key", await operatorKey.Resource.GetValueAsync(context.CancellationToken));
            var page = await http.GetFromJsonAsync<JsonElement>("/sagas?status=NeedsAttention&pageSize=500", context.CancellationToken);
            var sagas = page.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("sagaId").GetString()!).ToList();
            if (sagas.Count == 0) return CommandResults.Success("No saga needs attention.");

            var failed = new List<string>();
            foreach (var saga in sagas)
            {
                using var response = await http.PostAsync($"/sagas/{Uri.EscapeDataString(saga)}/retry", content: null, context.CancellationToken);
                if (!response.IsSuccessStatusCode) failed.Add($"{saga}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(context.CancellationToken)}");
            }
            context.Logger.LogInformation("Retried {Count} sagas that needed attention; {Failed} refused.", sagas.Count - failed.Count, failed.Count);
            return failed.Count == 0
                ? CommandResults.Success($"Retried {sagas.Count} saga(s) that needed attention.")
                : CommandResults.Failure($"Retried {sagas.Count - failed.Count} of {sagas.Count} saga(s); refused: {string.Join("; ", failed)}");
        }, new CommandOptions
        {
            Description = "Retries every saga parked as NeedsAttention (POST /sagas/{id}/retry, with the operator key).",
            IconName = "ArrowRepeatAll",
            UpdateState = Dashboard.EnabledWhileRunning,
        });
}
