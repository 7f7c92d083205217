using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SagaAspire.Embedded;

/// <summary>
/// Starts child processes that die with this one. Each child is wrapped in <c>setpriv --pdeathsig</c>,
/// so the kernel signals it when its parent goes away, even on kill -9. Linux delivers that signal
/// when the *thread* that forked the child exits, so every child is forked from one dedicated thread
/// that lives as long as the process.
/// </summary>
public static partial class ChildProcesses
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> Requests = new();

    static ChildProcesses()
    {
        var spawner = new Thread(() =>
        {
            foreach (var (info, started) in Requests.GetConsumingEnumerable())
            {
                try
                {
                    started.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start"));
                }
                catch (Exception ex)
                {
                    // Whatever went wrong belongs to the caller; the spawner thread must live on.
                    started.SetException(ex);
                }
            }
        })
        { IsBackground = true, Name = "SagaAspire child process spawner" };
        spawner.Start();
    }

    /// <summary>True when this process runs as root (and so must drop privileges for PostgreSQL).</summary>
    public static bool IsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    /// <summary>
    /// Starts <paramref name="fileName"/> with <paramref name="arguments"/>, optionally as another user,
    /// bound to this process's lifetime with <paramref name="deathSignal"/> (a signal name such as INT).
    /// </summary>
    public static Task<Process> StartAsync(string fileName, IEnumerable<string> arguments, string? runAsUser = null,
        string deathSignal = "TERM", IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "/",
        };
        if (runAsUser is not null)
        {
            info.ArgumentList.Add($"--reuid={runAsUser}");
            info.ArgumentList.Add($"--regid={runAsUser}");
            info.ArgumentList.Add("--init-groups");
        }
        info.ArgumentList.Add($"--pdeathsig={deathSignal}");
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment) info.Environment[key] = value;

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((info, started));
        return started.Task;
    }

    /// <summary>Sends a POSIX signal (for example SIGINT = 2) so a server can shut down its own way.</summary>
    public static void Signal(Process process, int signal)
    {
        if (!process.HasExited) _ = kill(process.Id, signal);
    }

    public const int SigInt = 2;
    public const int SigTerm = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
