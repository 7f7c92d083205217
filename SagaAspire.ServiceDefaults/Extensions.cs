using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SagaAspire.ServiceDefaults;

// Placed in the hosting namespace, as Aspire's service defaults are, so every service finds
// AddServiceDefaults() and MapDefaultEndpoints() without a using directive.
namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every SagaAspire service gets, in the shape of the Aspire template's service defaults:
/// telemetry over OTLP, health endpoints, service discovery and resilient HttpClients, and
/// problem details for every error.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    /// <summary>
    /// A request carrying this header is served but not traced: the Saga Explorer's own polling
    /// would otherwise bury the sagas' traces in the dashboard.
    /// </summary>
    public const string UntracedHeader = "X-Untraced";
    internal const string LiveTag = "live";

    /// <summary>
    /// Leaves this request out of the traces, together with everything it causes (its database
    /// calls, say): for requests that are no part of a saga and would only bury the sagas' traces.
    /// </summary>
    public static void SkipTracing(this Microsoft.AspNetCore.Http.HttpContext context)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpActivityFeature>()?.Activity is not { } activity) return;
        activity.ActivityTraceFlags &= ~System.Diagnostics.ActivityTraceFlags.Recorded;
        activity.IsAllDataRequested = false;
    }

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ExitCleanlyOnConfigurationErrors(builder.Environment.ApplicationName);
        builder.AddTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddProblemDetails();

        // Every HttpClient a service makes through the factory resolves service names the way the
        // AppHost publishes them (services__<name>__<endpoint>__0) and retries, times out and
        // breaks the circuit by the standard resilience pipeline.
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>The liveness check: the process answers. Each dependency adds its readiness check (see ConnectionExtensions).</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    private static int _exitHandlerInstalled;

    /// <summary>
    /// A service started without a setting it needs stops with the message that names the setting,
    /// exit code 2, and no stack trace: a configuration mistake is not a crash.
    /// </summary>
    private static void ExitCleanlyOnConfigurationErrors(string service)
    {
        if (Interlocked.Exchange(ref _exitHandlerInstalled, 1) == 1) return;
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (ConfigurationProblem(e.ExceptionObject) is not { } message) return;
            Console.Error.WriteLine($"{service}: {message}");
            Environment.Exit(2);
        };
    }

    /// <summary>
    /// Binds and checks now every setting registered to be checked at start (<c>ValidateOnStart</c>).
    /// A wrong one throws here, before the host starts, and the handler <see cref="AddServiceDefaults{TBuilder}"/>
    /// installs turns the exception into one line naming the setting and exit code 2. Left to the
    /// host's start, the same mistake is first logged as a failure to start, with its stack trace.
    /// (Under a test's WebApplicationFactory the exception goes to the factory, as the host's would.)
    /// </summary>
    public static WebApplication CheckSettings(this WebApplication app)
    {
        app.Services.GetService<IStartupValidator>()?.Validate();
        return app;
    }

    /// <summary>What is wrong with the settings, when the exception says a setting is missing, invalid or does not convert; else null.</summary>
    private static string? ConfigurationProblem(object error) => error switch
    {
        ConfigurationErrorException missing => missing.Message,
        OptionsValidationException invalid => $"Invalid settings: {string.Join("; ", invalid.Failures)}",
        // The binder's own failure: a value that does not convert to its setting's type, such as
        // 'maybe' for a true-or-false setting. Its message names the setting and the value.
        InvalidOperationException unconvertible when unconvertible.TargetSite?.DeclaringType == typeof(ConfigurationBinder) => $"Invalid setting: {unconvertible.Message}",
        AggregateException several when several.InnerExceptions.Select(ConfigurationProblem).ToList() is var problems && problems.All(p => p is not null) =>
            string.Join(" ", problems),
        _ => null,
    };

    /// <summary>
    /// Maps <c>/alive</c> (the process answers) and <c>/health</c> (its dependencies are reachable)
    /// in every environment, both answering with the status word only, never with internals; and
    /// turns errors into problem details.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Errors are RFC 9457 problem details in every environment: an unexpected exception is a
        // plain 500 without a stack trace, and empty error answers (404, 405, ...) get a body too.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Routing placed after the handler, so that even a routing failure (two endpoints matching
        // one request, say) is a plain problem; left implicit, routing runs before the handler.
        app.UseRouting();
        app.MapHealthChecks(HealthPath);
        app.MapHealthChecks(AlivePath, new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        return app;
    }
}
