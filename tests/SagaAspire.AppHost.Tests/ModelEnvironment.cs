namespace SagaAspire.AppHost.Tests;

/// <summary>What the AppHost's model gives a resource, without starting anything.</summary>
internal static class ModelEnvironment
{
    /// <summary>A resource's environment as the publisher writes it: values and manifest expressions.</summary>
    public static async Task<Dictionary<string, string>> OfAsync(IDistributedApplicationTestingBuilder builder, IResource resource)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource).WithEnvironmentVariablesConfig()
            .BuildAsync(builder.ExecutionContext, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        return configuration.EnvironmentVariables.ToDictionary(e => e.Key, e => e.Value);
    }

    /// <summary>The AppHost's model as it is built for publishing a manifest, with <paramref name="settings"/>.</summary>
    public static Task<IDistributedApplicationTestingBuilder> PublishingAsync(params string[] settings) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.SagaAspire_AppHost>(
            ["--operation", "publish", "--publisher", "manifest", "--output-path", Path.Combine(Path.GetTempPath(), $"sagaaspire-manifest-{Guid.NewGuid():N}"), .. settings]);
}
