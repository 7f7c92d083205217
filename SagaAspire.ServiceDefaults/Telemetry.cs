using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SagaAspire.ServiceDefaults;

/// <summary>
/// OpenTelemetry the way the Aspire service defaults set it up: the hosting package starts the
/// providers, the instrumentation packages trace and measure ASP.NET Core, HttpClient, the runtime
/// and Npgsql, and the OTLP exporter sends everything to the endpoint the AppHost names.
/// </summary>
public static class Telemetry
{
    /// <summary>SagaAspire's own activity sources and meters (messaging, sagas): they match this wildcard.</summary>
    public const string OwnSources = "SagaAspire.*";

    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceNameSetting = "OTEL_SERVICE_NAME";

    internal static void AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the default detectors;
                // the application name is only the fallback when no host named the service.
                if (string.IsNullOrWhiteSpace(builder.Configuration[ServiceNameSetting]))
                    resource.AddService(builder.Environment.ApplicationName);
            })
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddMeter(OwnSources))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(options => options.Filter = IsTraced)
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .AddSource(OwnSources)
                .AddProcessor(new NpgsqlDiagnosticTagsRemover()));

        // The exporter honours OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf) on its own.
        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointSetting]))
            otel.UseOtlpExporter();
    }

    /// <summary>
    /// Removes the tags Npgsql adds beyond the database conventions (the statement's text, the
    /// database, the server and the operation stay) before a span is exported. A saga's 34
    /// database spans carried 102 of them, and the Aspire dashboard stores every attribute as a
    /// row with three index entries, at some 400 µs of its CPU per span (docs/observability.md).
    /// Added before the exporter, so it runs first when a span ends.
    /// </summary>
    private sealed class NpgsqlDiagnosticTagsRemover : BaseProcessor<System.Diagnostics.Activity>
    {
        private static readonly string[] Removed = ["db.npgsql.prepared", "db.npgsql.data_source", "db.npgsql.connection_id"];

        public override void OnEnd(System.Diagnostics.Activity activity)
        {
            if (activity.Source.Name != "Npgsql") return;
            foreach (var tag in Removed) activity.SetTag(tag, null);
        }
    }

    /// <summary>
    /// Health probes every few seconds, and the Saga Explorer's polling, would drown the sagas: a
    /// request the filter refuses is served but not recorded. What it causes is recorded only
    /// where the instrumentation asks whether its parent is (the database calls do, see
    /// <see cref="ConnectionExtensions.AddNpgsqlDataSource{TBuilder}"/>): the AppHost's
    /// <c>always_on</c> sampler keeps a span whose parent was dropped.
    /// </summary>
    private static bool IsTraced(HttpContext context)
    {
        var path = context.Request.Path;
        return !path.StartsWithSegments(ServiceDefaultsExtensions.HealthPath)
            && !path.StartsWithSegments(ServiceDefaultsExtensions.AlivePath)
            && !context.Request.Headers.ContainsKey(ServiceDefaultsExtensions.UntracedHeader);
    }
}
