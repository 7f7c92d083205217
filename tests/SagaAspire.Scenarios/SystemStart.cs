using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace SagaAspire.Scenarios;

/// <summary>A resource of the system stopped for good while the system was starting; the message names it and shows its last output.</summary>
public sealed class SystemDidNotStartException(string message) : Exception(message);

/// <summary>Starting the AppHost's system under Aspire.Hosting.Testing, the way the tests and the load tool do.</summary>
public static partial class SystemStart
{
    private static readonly string[] Stopped = [KnownResourceStates.Exited, KnownResourceStates.FailedToStart, KnownResourceStates.Finished];

    /// <summary>
    /// Starts <paramref name="app"/> and waits until each of <paramref name="services"/> is
    /// healthy. When a resource stops for good meanwhile (an infrastructure process that could not
    /// start, a service that crashed), throws <see cref="SystemDidNotStartException"/> naming it,
    /// with its last output, instead of waiting for a health that never comes.
    /// </summary>
    public static async Task StartHealthyAsync(this DistributedApplication app, IEnumerable<string> services, CancellationToken cancellationToken)
    {
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stopped = FailWhenAResourceStopsAsync(app, starting.Token);
        var started = StartAndWaitAsync(app, services, starting.Token);
        await Task.WhenAny(started, stopped);
        await starting.CancelAsync();
        if (stopped.IsFaulted) await stopped; // throws, naming the resource
        await started;
    }

    private static async Task StartAndWaitAsync(DistributedApplication app, IEnumerable<string> services, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken);
        foreach (var service in services) await app.ResourceNotifications.WaitForResourceHealthyAsync(service, cancellationToken);
    }

    private static async Task FailWhenAResourceStopsAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var update in app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                if (update.Snapshot.State?.Text is not { } state || !Stopped.Contains(state)) continue;
                var exit = update.Snapshot.ExitCode is { } code ? string.Create(CultureInfo.InvariantCulture, $" with exit code {code}") : "";
                var output = await LastLinesAsync(app, update.ResourceId, 15);
                throw new SystemDidNotStartException(
                    $"The system did not start: {update.ResourceId} is {state}{exit}." +
                    (output.Count > 0 ? $" Its last output:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", output)}" : " It wrote nothing."));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The last lines a resource wrote, stack frames left out: what is left of a crash is its messages.</summary>
    private static async Task<IReadOnlyList<string>> LastLinesAsync(DistributedApplication app, string resourceId, int count)
    {
        var lines = new List<string>();
        await foreach (var batch in app.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resourceId))
            lines.AddRange(batch.Select(line => line.Content).Where(line => !StackFrame().IsMatch(line)));
        return lines.TakeLast(count).ToList();
    }

    // "   at Type.Method(...)" or "--- End of stack trace ...", after the timestamp Aspire puts first.
    [GeneratedRegex(@"^(\S+Z )?\s*(at |--- End of )")]
    private static partial Regex StackFrame();
}
