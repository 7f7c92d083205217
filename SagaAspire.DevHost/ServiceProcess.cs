using System.Diagnostics;
using SagaAspire.Embedded;

namespace SagaAspire.DevHost;

/// <summary>
/// One service running as its own process with the environment an Aspire AppHost would give it.
/// It dies with the host (parent-death signal), keeps its recent output for error messages, and
/// passes every line on with a prefix naming it.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Queue<string> _recent = new();
    private readonly Action<string, string>? _output;
    private Process? _process;

    public ServiceProcess(ServiceDefinition definition, string label, string url, IReadOnlyDictionary<string, string?> environment, Action<string, string>? output)
    {
        Definition = definition;
        Label = label;
        Url = url;
        Environment = environment;
        _output = output;
    }

    public ServiceDefinition Definition { get; }
    public string Name => Definition.Name;

    /// <summary>The name, with the replica's number when the service runs more than once.</summary>
    public string Label { get; }
    public string Url { get; }
    public IReadOnlyDictionary<string, string?> Environment { get; }
    public bool IsRunning => _process is { HasExited: false };
    public int? ProcessId => _process?.Id;

    public async Task StartAsync()
    {
        if (IsRunning) return;
        if (!File.Exists(Definition.AssemblyPath))
            throw new DevHostException($"{Definition.Name} is not built ({Definition.AssemblyPath} is missing). Run ./build.sh build first.");
        _process = await ChildProcesses.StartAsync("dotnet", [Definition.AssemblyPath], environment: Environment.ToDictionary(),
            workingDirectory: Path.GetDirectoryName(Definition.AssemblyPath));
        _process.OutputDataReceived += (_, e) => Remember(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until <c>/health</c> answers Healthy; fails with the service's last lines if it exits or never does.</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process is null || _process.HasExited)
                throw new DevHostException($"{Label} exited during start-up (exit code {_process?.ExitCode}). Its last lines:\n{RecentOutput()}");
            try
            {
                using var response = await http.GetAsync(new Uri(new Uri(Url), "/health"), cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200, cancellationToken);
        }
        throw new DevHostException($"{Label} did not become healthy within {timeout.TotalSeconds:0} s at {Url}/health. Its last lines:\n{RecentOutput()}");
    }

    /// <summary>Stops the service: SIGTERM for a graceful shutdown, SIGKILL when <paramref name="kill"/> or after a grace period.</summary>
    public async Task StopAsync(bool kill = false)
    {
        var process = _process;
        if (process is null) return;
        _process = null;
        if (!process.HasExited)
        {
            if (kill) process.Kill(entireProcessTree: true);
            else ChildProcesses.Signal(process, ChildProcesses.SigTerm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        process.Dispose();
    }

    public string RecentOutput()
    {
        lock (_recent) return string.Join('\n', _recent);
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_recent)
        {
            _recent.Enqueue(line);
            while (_recent.Count > 40) _recent.Dequeue();
        }
        _output?.Invoke(Label, line);
    }
}

/// <summary>What the DevHost knows of a service: its name, its database and where it is built.</summary>
public sealed record ServiceDefinition(string Name, string Database, string AssemblyPath);

/// <summary>The DevHost cannot go on; the message says why and what to do.</summary>
public sealed class DevHostException(string message) : Exception(message);
