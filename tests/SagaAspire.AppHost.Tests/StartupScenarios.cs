using System.Diagnostics;
using System.Reflection;
using SagaAspire.DevHost;

namespace SagaAspire.EndToEnd.Tests;

/// <summary>A service started by hand, the way a user might before reading the README.</summary>
public sealed class a_service_started_without_its_settings
{
    [Theory]
    [InlineData("order", "SagaAspire.Order", "ConnectionStrings__orders")]
    [InlineData("orchestrator", "SagaAspire.Orchestrator", "ConnectionStrings__orchestrator")]
    public async Task names_the_missing_setting_and_exits_without_a_stack_trace(string service, string assembly, string setting)
    {
        var configuration = typeof(a_service_started_without_its_settings).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(SagaSystem.FindRepositoryRoot(), "services", service, "bin", configuration, "net10.0", assembly + ".dll") },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        process.ExitCode.ShouldBe(2);
        var text = await error + await output;
        text.ShouldContain($"Missing setting {setting.Replace("__", ":", StringComparison.Ordinal)} (environment variable {setting})");
        text.ShouldNotContain("   at ", Case.Sensitive, "no stack trace");
        text.ShouldNotContain("Unhandled exception");
    }
}

/// <summary>The whole system on a fresh database, as the DevHost starts it the first time.</summary>
[Collection(SagaSystemCollection.Name)]
public sealed class a_fresh_system_on_the_devhost(SagaSystemFixture host)
{
    [Fact]
    public void uses_no_table_before_its_migrations_created_it()
    {
        // The background work of a service (re-sending pending orders, saga timeouts) starts
        // after its schema; PostgreSQL's "relation does not exist" (42P01) would say it did not.
        host.ServiceOutput.Where(o => o.Line.Contains("42P01", StringComparison.Ordinal)).ShouldBeEmpty();
    }
}
