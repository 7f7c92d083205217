using System.Globalization;

namespace SagaAspire.Load;

/// <summary>
/// CPU time one part of the system spent from the start of the load to the end of the recovery,
/// per completed saga (everything it did in that time, its resting level included); the same over
/// the steady part of the load only (from the end of the warm-up to the last send, per saga
/// completed in it: the JIT's tier-up and the drain at the end left out); and its share of a core
/// at rest, measured once the run is over and the system has settled.
/// </summary>
public sealed record CpuShare(string Part, double Seconds, double RestCores, double MillisecondsPerSaga, double? SteadyMillisecondsPerSaga);

/// <summary>
/// The whole machine over the steady window, as shares of its cores' time: busy with the system's
/// processes (the harness included), busy with other processes, stolen by the hypervisor (ready
/// to run, but the host ran something else), and idle. Runs of one code that differ by a third
/// can be looked at with these: a machine shared with others shows in the shares, a core slowed
/// from outside in <see cref="CoreBefore"/> and <see cref="CoreAfter"/>.
/// </summary>
public sealed record MachineShare(double Ours, double Others, double Stolen, double Idle)
{
    /// <summary><see cref="CoreSpeed"/> just before and just after the window.</summary>
    public CoreTimings? CoreBefore { get; init; }

    public CoreTimings? CoreAfter { get; init; }
}

/// <summary>
/// CPU time of each process of a harness-started system, read from <c>/proc</c> (Linux): the
/// service processes, the PostgreSQL server (the postmaster with every backend, live or ended),
/// the embedded broker, the dashboard, DCP (Aspire's orchestrator), and the harness itself
/// (which hosts the AppHost). CPU seconds per saga do not depend
/// on what else the machine is doing, so they say where the cost is even on a busy machine; the
/// cores divided by the total give the rate the machine could reach were it ours alone.
/// </summary>
public sealed class CpuMeter
{
    private readonly SystemUnderTest _system;
    private Dictionary<string, double> _start = [];
    private Dictionary<string, double> _end = [];
    private Dictionary<string, double> _restCores = [];
    private (Dictionary<string, double> Cpu, long Final, ProcFs.MachineTimes? Machine, CoreTimings? Core)? _steadyFrom;
    private (Dictionary<string, double> Cpu, long Final, ProcFs.MachineTimes? Machine, CoreTimings? Core)? _steadyTo;

    public CpuMeter(SystemUnderTest system) => _system = system;

    public static bool IsAvailable => OperatingSystem.IsLinux() && File.Exists("/proc/self/stat");

    public void Start() => _start = Sample();

    /// <summary>The warm-up is over: the steady window starts, with <paramref name="final"/> sagas final so far.</summary>
    public void MarkSteadyStart(long final)
    {
        var core = CoreSpeed.Measure(); // before the window: its few milliseconds are not the system's
        _steadyFrom = (Sample(), final, ProcFs.ReadMachine(), core);
    }

    /// <summary>The last order is sent: the steady window ends, with <paramref name="final"/> sagas final so far.</summary>
    public void MarkSteadyEnd(long final)
    {
        // A tuple's elements are evaluated in order: the core is measured after the window closes.
        _steadyTo = (Sample(), final, ProcFs.ReadMachine(), CoreSpeed.Measure());
    }

    /// <summary>How the machine's cores spent the steady window; null without one, or off Linux.</summary>
    public MachineShare? SteadyMachine()
    {
        if (_steadyFrom is not { Machine: { } start } from || _steadyTo is not { Machine: { } end } to) return null;
        var total = end.Total - start.Total;
        if (total <= 0) return null;
        var ours = to.Cpu.Where(c => from.Cpu.ContainsKey(c.Key)).Sum(c => c.Value - from.Cpu[c.Key]) / total;
        var busy = (end.Busy - start.Busy) / total;
        // Per-process and machine-wide times are sampled a moment apart: never report a negative share.
        return new MachineShare(Math.Min(ours, busy), Math.Max(0, busy - ours), (end.Stolen - start.Stolen) / total, (end.Idle - start.Idle) / total)
        {
            CoreBefore = from.Core,
            CoreAfter = to.Core,
        };
    }

    /// <summary>Ends the measured window (the load and its recovery).</summary>
    public void Stop()
    {
        _end = Sample();
    }

    /// <summary>
    /// Waits, at most <paramref name="bound"/>, until the system is quiet: its processes (the
    /// harness aside) together below <paramref name="quietCores"/> over a second. Every saga may be
    /// final while the dashboard is still taking in the spans the services' exporters held back
    /// during the load: that work belongs to the run, so the window ends only after it. Returns
    /// how long the wait took.
    /// </summary>
    public async Task<TimeSpan> SettleAsync(TimeSpan bound, double quietCores, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var before = Sample();
        while (clock.Elapsed < bound)
        {
            var second = System.Diagnostics.Stopwatch.StartNew();
            await Task.Delay(1000, cancellationToken);
            var after = Sample();
            var busy = after.Where(a => before.ContainsKey(a.Key) && !a.Key.StartsWith(HarnessPart, StringComparison.Ordinal)).Sum(a => a.Value - before[a.Key]);
            if (busy / second.Elapsed.TotalSeconds < quietCores) break;
            before = after;
        }
        return clock.Elapsed;
    }

    /// <summary>The seconds of CPU <paramref name="part"/> used in the measured window, if it was measured whole.</summary>
    public double? SecondsOf(string part) =>
        _end.Where(e => e.Key.StartsWith(part + "#", StringComparison.Ordinal) && _start.ContainsKey(e.Key)).Select(e => (double?)(e.Value - _start[e.Key])).SingleOrDefault();

    private const string HarnessPart = "harness + AppHost";

    /// <summary>
    /// What each part burns with nothing to do (polling fetches, timers, exporters), in cores,
    /// measured after <see cref="Stop"/>: the system has drained and its code is compiled, so this
    /// is its steady rest, not the tail of its start-up.
    /// </summary>
    public async Task MeasureRestAsync(TimeSpan length, CancellationToken cancellationToken)
    {
        var before = Sample();
        await Task.Delay(length, cancellationToken);
        var after = Sample();
        _restCores = after.Where(a => before.ContainsKey(a.Key)).ToDictionary(a => a.Key, a => (a.Value - before[a.Key]) / length.TotalSeconds);
    }

    /// <summary>Each part's CPU in the measured window per completed saga, and at rest.</summary>
    public IReadOnlyList<CpuShare> Shares(long sagas)
    {
        // A process restarted during the run (a fault) has a new pid: its CPU time is not known
        // whole, and the figures would be wrong, so a run with such faults reports none, and says why.
        var gone = _start.Keys.Except(_end.Keys).ToList();
        var come = _end.Keys.Except(_start.Keys).ToList();
        if (gone.Count > 0 || come.Count > 0)
        {
            NotMeasured = $"processes changed during the run (ended: {Describe(gone)}; started: {Describe(come)})";
            return [];
        }
        var steadySagas = _steadyFrom is { } from && _steadyTo is { } to ? to.Final - from.Final : 0;
        return _end.Select(e =>
        {
            var used = e.Value - _start[e.Key];
            double? steady = steadySagas > 0 && _steadyFrom!.Value.Cpu.TryGetValue(e.Key, out var a) && _steadyTo!.Value.Cpu.TryGetValue(e.Key, out var b)
                ? (b - a) * 1000 / steadySagas
                : null;
            return new CpuShare(e.Key[..e.Key.LastIndexOf('#')], used, _restCores.GetValueOrDefault(e.Key), sagas == 0 ? 0 : used * 1000 / sagas, steady);
        }).ToList();
    }

    /// <summary>Why <see cref="Shares"/> reported nothing, when it did not.</summary>
    public string? NotMeasured { get; private set; }

    private static string Describe(List<string> parts) => parts.Count == 0 ? "none" : string.Join(", ", parts.Select(p => p.Replace('#', ' ')));

    private Dictionary<string, double> Sample()
    {
        var sample = new Dictionary<string, double>();
        if (!IsAvailable || _system.Hosted is not { } hosted) return sample;
        var instances = hosted.AllInstances();
        foreach (var instance in instances)
            if (instance.ProcessId is { } pid && ProcFs.ReadStat(pid) is { } times)
                sample[$"{(instances.Count(i => i.Service == instance.Service) == 1 ? instance.Service : instance.Id)}#{pid.ToString(CultureInfo.InvariantCulture)}"] = times.Own;
        foreach (var (part, pids) in hosted.InfrastructureProcesses())
            sample[$"{part}#{pids[0].ToString(CultureInfo.InvariantCulture)}"] = GroupSeconds(pids);
        if (hosted.PostmasterPid() is { } postmaster && ProcFs.Alive(postmaster))
        {
            // The postmaster and its live backends; ended backends are in the postmaster's children time.
            List<int> server = [postmaster, .. ProcFs.Processes().Where(p => p.Parent == postmaster).Select(p => p.Pid)];
            sample[$"PostgreSQL#{postmaster.ToString(CultureInfo.InvariantCulture)}"] = GroupSeconds(server);
        }
        if (ProcFs.ReadStat(Environment.ProcessId) is { } self) sample[$"{HarnessPart}#{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}"] = self.Own;
        return sample;
    }

    /// <summary>
    /// CPU time of a group of processes that may start and end helpers as it goes (DCP does, and
    /// PostgreSQL's backends come and go): the time of its live processes, plus what the ended
    /// children of its top processes (those whose parent is not in the group) used.
    /// </summary>
    private static double GroupSeconds(IReadOnlyList<int> pids)
    {
        var live = pids.Select(ProcFs.ReadStat).OfType<ProcFs.Stat>().ToList();
        return live.Sum(p => p.Own) + live.Where(p => !pids.Contains(p.Parent)).Sum(p => p.Children);
    }
}
