using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace SagaAspire.ServiceDefaults.Tests;

/// <summary>A minimal web service built the way every SagaAspire service is, on a free loopback port.</summary>
internal sealed class MinimalService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MinimalService(WebApplication app)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<MinimalService> StartAsync(IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "minimal-service", EnvironmentName = "Development" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/hello/{name}", (string name) => $"hello {name}");
        app.MapGet("/boom", string () => throw new InvalidOperationException("secret internals"));
        // A programming error routing itself trips over: two endpoints match one request.
        app.MapGet("/twice", () => "one");
        app.MapGet("/twice/", () => "two");
        map?.Invoke(app);
        await app.StartAsync();
        return new MinimalService(app);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
