namespace SagaAspire.AppHost.Services;

public static class SagaServiceBuilderExtensions
{
    /// <summary>
    /// One of the saga's services: its HTTP endpoint (on its fixed port in run mode, unless
    /// SagaAspire:BasePort is 0), its health check, its replicas, the operator key, and a
    /// dashboard command that kills it.
    /// </summary>
    internal static IResourceBuilder<ProjectResource> AddSagaService<TProject>(this IDistributedApplicationBuilder builder, [ResourceName] string name,
        SagaAspireSettings settings, IResourceBuilder<ParameterResource> operatorKey) where TProject : IProjectMetadata, new()
    {
        var service = builder.AddProject<TProject>(name);
        if (builder.ExecutionContext.IsRunMode) service.WithBuiltExecutable(); // a published manifest names the project, as ever
        service
            .WithHttpEndpoint(port: builder.ExecutionContext.IsRunMode ? settings.PortOf(name) : null, name: "http")
            .WithHttpHealthCheck("/health")
            .WithReplicas(settings.Replicas[name])
            .WithEnvironment("Operations__ApiKey", operatorKey)
            .WithKillCommand();
        if (builder.ExecutionContext.IsRunMode)
        {
            // Metrics every 5 s rather than every second, as Aspire sets for projects in
            // development: storing the five services' metrics every second kept the dashboard at
            // about 2 % of a core with no saga running, against 0.4 % (docs/benchmarks.md). Traces
            // and logs still leave within a second.
            service.WithEnvironment("OTEL_METRIC_EXPORT_INTERVAL", "5000");
        }
        if (settings.TraceSampling < 1)
        {
            // In place of the always_on sampler Aspire gives every project in development: the
            // order service decides at POST /orders, and every later hop follows the decision
            // carried in the trace context (docs/observability.md, "How much of it the dashboard takes in").
            service.WithEnvironment("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
                .WithEnvironment("OTEL_TRACES_SAMPLER_ARG", settings.TraceSampling.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (settings.Infrastructure == Infrastructure.Embedded)
        {
            // With the embedded broker a consumer that died gives up its partitions after 6 s
            // rather than 45. (Fetches need no short wait: the broker answers a waiting fetch as
            // soon as its partition gets data, as a real one does; see eng/librdkafka-mock-fetch.patch.)
            service.WithEnvironment("Messaging__SessionTimeoutMs", "6000");
        }
        return service;
    }

    /// <summary>
    /// Runs the service's built executable itself rather than <c>dotnet run --no-build</c>, which
    /// is how Aspire launches a project by default. Under <c>dotnet run</c> the process Aspire
    /// knows (its id in the dashboard, the one it signals to stop) is the launcher: a stop's
    /// SIGTERM ends the launcher and leaves the service to be cleaned up later, without the
    /// graceful shutdown in which its consumers leave their groups, and a "kill" would have to
    /// look for the real process among the launcher's children. Run directly, the service is the
    /// resource's process, one fewer runtime per replica is started, and the service starts sooner.
    /// </summary>
    internal static IResourceBuilder<ProjectResource> WithBuiltExecutable(this IResourceBuilder<ProjectResource> service)
    {
        var project = service.Resource.GetProjectMetadata().ProjectPath;
        var directory = Path.GetDirectoryName(project)!;
        var executable = Path.Combine(directory, "bin", BuildConfiguration, "net10.0", Path.GetFileNameWithoutExtension(project));
        return service.WithAnnotation(new ExecutableAnnotation { Command = executable, WorkingDirectory = directory }, ResourceAnnotationMutationBehavior.Replace)
            .OnBeforeResourceStarted((_, _, _) => File.Exists(executable)
                ? Task.CompletedTask
                : throw new DistributedApplicationException($"{executable} is missing: build the solution first (./build.sh build, or ./build.sh run, which builds)."));
    }

    /// <summary>The configuration this AppHost was built in, which is the one its project references were built in.</summary>
    private static string BuildConfiguration { get; } =
        typeof(SagaServiceBuilderExtensions).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
            .OfType<System.Reflection.AssemblyConfigurationAttribute>().FirstOrDefault()?.Configuration ?? "Debug";

    /// <summary>References the database as <paramref name="connectionName"/> (the name the service reads) and waits for it.</summary>
    internal static IResourceBuilder<ProjectResource> WithDatabase(this IResourceBuilder<ProjectResource> service, IResourceBuilder<IResourceWithConnectionString> database, string connectionName) =>
        service.WithReference(database, connectionName).WaitFor(database);
}
