using System.Globalization;

namespace SagaAspire.Load;

/// <summary>The processes of this machine as /proc shows them (Linux).</summary>
internal static class ProcFs
{
    /// <summary>A process's CPU time (utime + stime), its ended children's (cutime + cstime), in seconds, and its parent.</summary>
    public readonly record struct Stat(double Own, double Children, int Parent);

    public static bool Alive(int pid) => Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>What /proc/&lt;pid&gt;/stat says of a process; null when it is gone.</summary>
    public static Stat? ReadStat(int pid) =>
        TryRead($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat") is { } text ? Parse(text) : null;

    public static IEnumerable<(int Pid, int Parent, string CommandLine)> Processes()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (TryRead($"{directory}/stat") is not { } stat || TryRead($"{directory}/cmdline") is not { } commandLine) continue; // ended meanwhile
            yield return (pid, Parse(stat).Parent, commandLine.Replace('\0', ' '));
        }
    }

    private static Stat Parse(string stat)
    {
        // The command name (field 2) may hold spaces: the fields that matter come after its ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const double TicksPerSecond = 100; // USER_HZ on Linux
        double Seconds(int field) => double.Parse(fields[field - 3], CultureInfo.InvariantCulture) / TicksPerSecond;
        return new Stat(Seconds(14) + Seconds(15), Seconds(16) + Seconds(17), int.Parse(fields[4 - 3], CultureInfo.InvariantCulture));
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
