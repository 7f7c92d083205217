using System.Diagnostics;

namespace SagaAspire.Deployment.Tests;

/// <summary>Runs a command line tool and returns what it printed; throws with its errors when it fails.</summary>
internal static class Tools
{
    public static string Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The test host runs under the SDK's MSBuild settings; a child dotnet must find its own.
        foreach (var inherited in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
            start.Environment.Remove(inherited);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} took longer than two minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}: {errors.Result}");
        return output.Result;
    }

    /// <summary>Whether a program of that name is on PATH.</summary>
    public static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, name)));
}

/// <summary>
/// A fact that needs <c>kubectl</c> with kustomize 5 built in; skipped, saying so, where there is
/// none (Debian's own kubernetes-client is 1.20, with kustomize 2, too old for these overlays).
/// </summary>
public sealed class KubectlFactAttribute : FactAttribute
{
    public KubectlFactAttribute()
    {
        const string others = "every other test uses the tests' own renderer";
        if (!Tools.OnPath("kubectl"))
        {
            Skip = $"kubectl is not on PATH: the comparison with the real kustomize needs it ({others}).";
            return;
        }
        string version;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(Tools.Run("kubectl", "version", "--client", "-o", "json"));
            version = json.RootElement.TryGetProperty("kustomizeVersion", out var kustomize) ? kustomize.GetString() ?? "" : "";
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Text.Json.JsonException or TimeoutException)
        {
            version = "";
        }
        if (!version.StartsWith("v5.", StringComparison.Ordinal))
            Skip = $"kubectl's kustomize is '{version}', not 5.x: the comparison with the real kustomize needs kustomize 5 ({others}).";
    }
}
