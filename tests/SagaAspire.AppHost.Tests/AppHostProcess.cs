using System.Diagnostics;
using System.Reflection;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>The AppHost as a user starts it (its built executable, as ./build.sh run does), with the settings given.</summary>
internal sealed class AppHostProcess : IDisposable
{
    private static readonly string Configuration =
        typeof(AppHostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string Executable { get; } = Path.Combine(Repository.Root, "SagaAspire.AppHost", "bin", Configuration, "net10.0", "SagaAspire.AppHost");

    private readonly System.Text.StringBuilder _output = new();

    private AppHostProcess(Process process) => Process = process;

    public Process Process { get; }

    /// <summary>Standard output and error so far.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static AppHostProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // What the AppHost's launch profile sets, as ./build.sh run does, on ports of its own.
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = "http://127.0.0.1:0";
        start.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = "http://127.0.0.1:0";
        start.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("SagaAspire", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        var process = new AppHostProcess(Process.Start(start)!);
        process.Process.OutputDataReceived += (_, e) => process.Remember(e.Data);
        process.Process.ErrorDataReceived += (_, e) => process.Remember(e.Data);
        process.Process.BeginOutputReadLine();
        process.Process.BeginErrorReadLine();
        return process;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await Process.WaitForExitAsync(cancel.Token);
        Process.WaitForExit(); // the output has been read to its end
        return Process.ExitCode;
    }

    /// <summary>Waits until a line of the output contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (Process.HasExited) throw new InvalidOperationException($"The AppHost exited ({Process.ExitCode}) before writing '{text}':\n{Output}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The AppHost did not write '{text}' within {timeout.TotalSeconds:0} s:\n{Output}");
            await Task.Delay(200);
        }
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}
