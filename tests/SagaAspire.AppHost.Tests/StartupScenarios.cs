using System.Diagnostics;
using System.Reflection;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>A service started by hand, the way a user might before reading the README.</summary>
public sealed class a_service_started_without_its_settings
{
    [Theory]
    [InlineData("order", "SagaAspire.Order", "ConnectionStrings__orders")]
    [InlineData("orchestrator", "SagaAspire.Orchestrator", "ConnectionStrings__orchestrator")]
    public async Task names_the_missing_setting_and_exits_without_a_stack_trace(string service, string assembly, string setting)
    {
        var (exitCode, text) = await ServiceProcess.RunAsync(service, assembly, new Dictionary<string, string>());

        exitCode.ShouldBe(2, text);
        text.ShouldContain($"Missing setting {setting.Replace("__", ":", StringComparison.Ordinal)} (environment variable {setting})");
        text.ShouldNotContain("   at ", Case.Sensitive, "no stack trace");
        text.ShouldNotContain("Unhandled exception");
    }
}

/// <summary>A service started with a setting that does not convert to its type, or breaks a rule.</summary>
public sealed class a_service_started_with_a_wrong_setting
{
    // Servers nobody listens on: the settings are checked before any connection is tried.
    private static readonly Dictionary<string, string> Unreachable = new()
    {
        ["ConnectionStrings__payment"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=payment",
        ["ConnectionStrings__orders"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=orders",
        ["ConnectionStrings__orchestrator"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=orchestrator",
        ["ConnectionStrings__kafka"] = "127.0.0.1:1",
    };

    [Theory]
    [InlineData("payment", "SagaAspire.Payment", "Messaging__RelayHandOver", "maybe", "Invalid setting: Failed to convert configuration value 'maybe' at 'Messaging:RelayHandOver' to type 'System.Boolean'.")]
    [InlineData("payment", "SagaAspire.Payment", "Messaging__RelayPollInterval", "soon", "at 'Messaging:RelayPollInterval' to type 'System.TimeSpan'")]
    [InlineData("payment", "SagaAspire.Payment", "Messaging__RelayBatchSize", "0", "Invalid settings: Messaging:RelayBatchSize must be 1 or more")]
    [InlineData("order", "SagaAspire.Order", "Orders__ResendScanInterval", "00:00:00", "Orders:ResendScanInterval must be positive")]
    [InlineData("orchestrator", "SagaAspire.Orchestrator", "Orchestrator__StepTimeout", "never", "at 'Orchestrator:StepTimeout' to type 'System.TimeSpan'")]
    public async Task names_it_and_exits_without_a_stack_trace(string service, string assembly, string setting, string value, string message)
    {
        var (exitCode, text) = await ServiceProcess.RunAsync(service, assembly, new Dictionary<string, string>(Unreachable) { [setting] = value });

        exitCode.ShouldBe(2, text);
        text.ShouldContain(message, Case.Sensitive, text);
        text.ShouldNotContain("   at ", Case.Sensitive, "no stack trace");
        text.ShouldNotContain("Hosting failed to start", Case.Sensitive, "stopped before the host's start");
    }
}

/// <summary>One service's build output run as a process of its own, its connection strings only those given.</summary>
internal static class ServiceProcess
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string service, string assembly, IReadOnlyDictionary<string, string> environment)
    {
        var configuration = typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(Repository.Root, "services", service, "bin", configuration, "net10.0", assembly + ".dll") },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment) start.Environment[key] = value;

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{assembly} did not stop within 60 s: {await output}{await error}");
        }
        return (process.ExitCode, await error + await output);
    }
}

/// <summary>The whole system on fresh databases, as the AppHost starts it the first time.</summary>
[Collection(AppHostCollection.Name)]
public sealed class a_fresh_system(AppHostFixture host, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void starts_without_an_error_in_any_log()
    {
        output.WriteLine($"The AppHost took {host.StartDuration.TotalSeconds:0.0} s from creating its builder to every service healthy.");
        output.WriteLine($"The warm-up order then took {host.WarmUpDuration.TotalSeconds:0.0} s from its POST to its outcome.");
        host.StartupLogs.Keys.ShouldContain("postgres");
        foreach (var service in AppHostFixture.Services) host.StartupLogs[service].ShouldNotBeEmpty($"{service} wrote its console log");
        // fail:/crit: are .NET's console formatter's error levels; ERROR:/FATAL: PostgreSQL's.
        var errors = host.StartupLogs.SelectMany(log => log.Value.Where(IsError).Select(line => $"{log.Key}: {line}")).ToList();
        errors.ShouldBeEmpty();
    }

    [Fact]
    public void uses_no_table_before_its_migrations_created_it()
    {
        // The background work of a service (re-sending pending orders, saga timeouts) starts
        // after its schema; PostgreSQL's "relation does not exist" (42P01) would say it did not.
        host.StartupLogs.SelectMany(log => log.Value).Where(line => line.Contains("42P01", StringComparison.Ordinal)).ShouldBeEmpty();
    }

    private static bool IsError(string line) =>
        line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal)
        || line.Contains("ERROR:", StringComparison.Ordinal) || line.Contains("FATAL:", StringComparison.Ordinal)
        || line.Contains("Unhandled exception", StringComparison.Ordinal);
}
