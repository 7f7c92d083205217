using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SagaAspire.ServiceDefaults;

/// <summary>
/// OpenTelemetry on the SDK and the OTLP exporter alone. The instrumentation packages are not
/// used: .NET already emits activities and metrics from ASP.NET Core, HttpClient, the runtime and
/// Npgsql, so subscribing to those sources is enough.
/// </summary>
public static class Telemetry
{
    /// <summary>Activity sources traced in every service; SagaAspire's own building blocks match the wildcard.</summary>
    public static readonly string[] ActivitySources = ["Microsoft.AspNetCore", "System.Net.Http", "Npgsql", "SagaAspire.*"];

    /// <summary>Meters exported from every service.</summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics", "System.Net.Http", "System.Runtime", "Npgsql", "SagaAspire.*",
    ];

    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceNameSetting = "OTEL_SERVICE_NAME";

    internal static void AddTelemetry(this IHostApplicationBuilder builder)
    {
        var otel = new ServiceCollectionOpenTelemetryBuilder(builder.Services);
        otel.ConfigureResource(resource =>
        {
            // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the default detectors;
            // the application name is only the fallback when no host named the service.
            if (string.IsNullOrWhiteSpace(builder.Configuration[ServiceNameSetting]))
                resource.AddService(builder.Environment.ApplicationName);
        });
        otel.WithTracing(tracing => tracing.AddSource(ActivitySources));
        otel.WithMetrics(metrics => metrics.AddMeter(Meters));
        otel.WithLogging(configureBuilder: null, configureOptions: options =>
        {
            options.IncludeFormattedMessage = true;
            options.IncludeScopes = true;
        });

        // The exporter honours OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf) on its own.
        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointSetting]))
            otel.UseOtlpExporter();

        builder.Services.AddHostedService<TelemetryStarter>();
        builder.Services.AddSingleton<IStartupFilter, HttpServerSpanStartupFilter>();
    }

    /// <summary>The SDK's providers are lazy singletons; resolving them at start-up begins listening.</summary>
    private sealed class TelemetryStarter(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = services.GetService<TracerProvider>();
            _ = services.GetService<MeterProvider>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class ServiceCollectionOpenTelemetryBuilder(IServiceCollection services) : IOpenTelemetryBuilder
    {
        public IServiceCollection Services { get; } = services;
    }

    private sealed class HttpServerSpanStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(HttpServerSpan.EnrichAsync);
            next(app);
        };
    }
}

/// <summary>
/// Gives ASP.NET Core's own request activity the name and attributes of the OpenTelemetry HTTP
/// server conventions, and keeps health probes out of the traces.
/// </summary>
internal static class HttpServerSpan
{
    public static async Task EnrichAsync(HttpContext context, RequestDelegate next)
    {
        var activity = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpActivityFeature>()?.Activity;
        if (activity is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var path = context.Request.Path;
        if (path.StartsWithSegments(ServiceDefaultsExtensions.HealthPath) || path.StartsWithSegments(ServiceDefaultsExtensions.AlivePath)
            || context.Request.Headers.ContainsKey(ServiceDefaultsExtensions.UntracedHeader))
        {
            // Probes every few seconds, and the Saga Explorer's polling, would drown the sagas.
            context.SkipTracing();
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var method = context.Request.Method;
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } raw && raw.Length > 1 ? raw.TrimEnd('/') : null;
            activity.DisplayName = route is null ? method : $"{method} {route}";
            SetIfAbsent(activity, "http.request.method", method);
            SetIfAbsent(activity, "url.path", path.Value);
            SetIfAbsent(activity, "url.scheme", context.Request.Scheme);
            if (route is not null) SetIfAbsent(activity, "http.route", route);
            var status = context.Response.StatusCode;
            SetIfAbsent(activity, "http.response.status_code", status);
            if (status >= 500)
            {
                activity.SetStatus(ActivityStatusCode.Error);
                SetIfAbsent(activity, "error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    private static void SetIfAbsent(Activity activity, string name, object? value)
    {
        if (activity.GetTagItem(name) is null) activity.SetTag(name, value);
    }
}
