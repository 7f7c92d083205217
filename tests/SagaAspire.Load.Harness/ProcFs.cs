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

    /// <summary>
    /// The machine's CPU time since boot, summed over its cores, in seconds: busy (user, nice,
    /// system, interrupts), idle (iowait included), and stolen (the hypervisor ran something else
    /// while this machine's processes were ready to run).
    /// </summary>
    public readonly record struct MachineTimes(double Busy, double Idle, double Stolen)
    {
        public double Total => Busy + Idle + Stolen;
    }

    /// <summary>The first line of /proc/stat; null where there is none.</summary>
    public static MachineTimes? ReadMachine() => TryRead("/proc/stat") is { } text ? ParseMachine(text) : null;

    /// <summary>The machine's times from the text of /proc/stat; null when its first line is not the cores' sum.</summary>
    public static MachineTimes? ParseMachine(string stat)
    {
        if (!stat.StartsWith("cpu ", StringComparison.Ordinal)) return null;
        var end = stat.IndexOf('\n');
        var fields = stat[..(end < 0 ? stat.Length : end)].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double Seconds(int field) => field < fields.Length ? double.Parse(fields[field], CultureInfo.InvariantCulture) / TicksPerSecond : 0;
        // cpu user nice system idle iowait irq softirq steal (guest time is counted in user already)
        return new MachineTimes(Busy: Seconds(1) + Seconds(2) + Seconds(3) + Seconds(6) + Seconds(7), Idle: Seconds(4) + Seconds(5), Stolen: Seconds(8));
    }

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
        double Seconds(int field) => double.Parse(fields[field - 3], CultureInfo.InvariantCulture) / TicksPerSecond;
        return new Stat(Seconds(14) + Seconds(15), Seconds(16) + Seconds(17), int.Parse(fields[4 - 3], CultureInfo.InvariantCulture));
    }

    private const double TicksPerSecond = 100; // USER_HZ on Linux

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
