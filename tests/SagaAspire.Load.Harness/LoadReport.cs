using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace SagaAspire.Load;

/// <summary>Percentiles of a set of durations, in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P95, double P99, double Max, double Mean)
{
    public static LatencySummary Of(IReadOnlyCollection<double> milliseconds)
    {
        if (milliseconds.Count == 0) return new LatencySummary(0, 0, 0, 0, 0, 0);
        var sorted = milliseconds.Order().ToArray();
        double At(double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
        return new LatencySummary(sorted.Length, At(0.50), At(0.95), At(0.99), sorted[^1], sorted.Average());
    }

    public string Text => Count == 0 ? "none" : string.Create(CultureInfo.InvariantCulture, $"p50 {P50:0.0} ms, p95 {P95:0.0} ms, p99 {P99:0.0} ms, max {Max:0.0} ms");
}

/// <summary>The time between two recorded points of a saga (p50/p95/p99 in milliseconds).</summary>
public sealed record StageTiming(string Stage, long Count, double P50, double P95, double P99);

/// <summary>
/// How the orders of one kind ended: approved, rejected by the step that refused them (stock,
/// payment, delivery), by a step that timed out for good, otherwise, or not final (not accepted,
/// or still Pending); how many as the kind intends, and how many of the delivery refusals were the
/// courier's random ones (Delivery:FailureRate).
/// </summary>
public sealed record OutcomeRow(string Kind, long Sent, long Approved, long StockRefused, long PaymentDeclined, long DeliveryRefused, long TimedOut,
    long OtherRejection, long NotFinal, long AsIntended, long RefusedAtRandom);

/// <summary>Everything a run measured and checked; written as JSON with <c>--json</c>.</summary>
public sealed record LoadReport
{
    public required string RunId { get; init; }
    public required string Settings { get; init; }
    public required DateTime StartedAt { get; init; }
    public required string Machine { get; init; }

    /// <summary>The 1-minute load average when the run started: how busy the machine was besides the run.</summary>
    public double? LoadAverageAtStart { get; init; }

    public long Sent { get; init; }

    /// <summary>How the orders ended, by kind (every order of the run, warm-up included).</summary>
    public IReadOnlyList<OutcomeRow> Outcomes { get; init; } = [];

    public long Accepted { get; init; }
    public long NotAccepted { get; init; }
    public long Final { get; init; }

    /// <summary>Orders after the warm-up, the ones the figures are about.</summary>
    public long Measured { get; init; }

    /// <summary>From the first measured order's intended send time to the last measured order's final state.</summary>
    public double MeasuredSeconds { get; init; }

    /// <summary>Measured sagas that reached a final state, per second of <see cref="MeasuredSeconds"/>.</summary>
    public double CompletedSagasPerSecond { get; init; }

    /// <summary>Intended send time to the order's final state (Approved or Rejected).</summary>
    public required LatencySummary EndToEnd { get; init; }

    /// <summary>From the moment the harness received the order's 202 to the order's final state.</summary>
    public required LatencySummary AcceptedToFinal { get; init; }

    /// <summary>Intended send time to the 202 of POST /orders.</summary>
    public required LatencySummary Accept { get; init; }

    public Dictionary<string, long> Errors { get; init; } = [];
    public CeilingResult? Ceiling { get; init; }

    /// <summary>Completed sagas per second divided by the ceiling's transactions per second.</summary>
    public double? RatioToCeiling { get; init; }

    public IReadOnlyList<FaultRecord> Faults { get; init; } = [];
    public Dictionary<string, int> PoisonInjected { get; init; } = [];
    public long Duplicated { get; init; }

    /// <summary>Messages the loss faults took away (skipped by a consumer group or deleted from an outbox; an upper bound, since a deleted row may have been published already).</summary>
    public long LostMessages { get; init; }
    public bool Recovered { get; init; }

    /// <summary>From the end of the load (and of the faults) until every saga was final and every outbox empty.</summary>
    public double? RecoverySeconds { get; init; }
    public double RecoveryBoundSeconds { get; init; }
    public IReadOnlyList<StageTiming> Stages { get; init; } = [];

    /// <summary>CPU time of each part of the system from the start of the load to the end of the recovery wait, per final saga (its resting level included), and its rest after the run.</summary>
    public IReadOnlyList<CpuShare> Cpu { get; init; } = [];

    /// <summary>How the machine's cores spent the steady window (ours, others, stolen, idle); null when not measured.</summary>
    public MachineShare? SteadyMachine { get; init; }

    /// <summary>Why there are no CPU figures, when there are none.</summary>
    public string? CpuNotMeasured { get; init; }

    /// <summary>From the end of the recovery until the system was quiet again (the dashboard taking in held-back spans): part of the measured window.</summary>
    public double SettleSeconds { get; init; }

    /// <summary>What the dashboard stored of the run's traces; null without a dashboard.</summary>
    public TelemetryReport? Telemetry { get; init; }

    /// <summary>Transactions per final saga in each database (pg_stat_database), from the start of the load to the end of the recovery wait.</summary>
    public Dictionary<string, double> TransactionsPerSaga { get; init; } = [];

    /// <summary>Of <see cref="TransactionsPerSaga"/>, those rolled back (a shared transaction that failed, a lost race, a deadlock).</summary>
    public Dictionary<string, double> RolledBackPerSaga { get; init; } = [];

    public double CpuMillisecondsPerSaga => Cpu.Sum(c => c.MillisecondsPerSaga);

    /// <summary>CPU per saga of every process over the steady part of the load (after the warm-up, to the last send); null when it had none.</summary>
    public double? SteadyCpuMillisecondsPerSaga => Cpu.Count > 0 && Cpu.All(c => c.SteadyMillisecondsPerSaga is not null) ? Cpu.Sum(c => c.SteadyMillisecondsPerSaga!.Value) : null;

    /// <summary>The rate at which the machine's cores would be busy with nothing but these sagas (an upper bound, had the run the machine to itself).</summary>
    public double? CpuBoundSagasPerSecond => (SteadyCpuMillisecondsPerSaga ?? CpuMillisecondsPerSaga) is > 0 and var perSaga ? Environment.ProcessorCount * 1000 / perSaga : null;
    public IReadOnlyList<InvariantResult> Invariants { get; init; } = [];

    /// <summary>The state before the run the invariants were checked against (to check them again).</summary>
    [JsonIgnore]
    public RunBaseline? Baseline { get; init; }

    public bool InvariantsHold => Invariants.All(i => i.Passed || i.IsExpectation) && Recovered;

    public string Summary()
    {
        var text = new StringBuilder();
        void Line(string line) => text.AppendLine(line);
        var culture = CultureInfo.InvariantCulture;
        Line($"SagaAspire load run {RunId}");
        Line($"  settings     {Settings}");
        Line($"  machine      {Machine}, load average at start {LoadAverageAtStart?.ToString("0.00", culture) ?? "unknown"}");
        Line($"  orders       {Sent} sent, {Accepted} accepted, {NotAccepted} not accepted, {Final} final ({Measured} measured)");
        if (Outcomes.Count > 0)
        {
            Line("  outcomes     (warm-up included; rejected by the step that refused, or a step that timed out)");
            Line($"    {"kind",-14} {"sent",7} {"approved",9} {"stock refused",14} {"payment declined",17} {"delivery refused",17} {"timed out",10} {"otherwise",10} {"not final",10} {"as intended",12}");
            foreach (var row in Outcomes)
                Line($"    {row.Kind,-14} {row.Sent,7} {row.Approved,9} {row.StockRefused,14} {row.PaymentDeclined,17} {row.DeliveryRefused,17} {row.TimedOut,10} {row.OtherRejection,10} {row.NotFinal,10} {row.AsIntended,12}"
                    + (row.RefusedAtRandom > 0 ? $"   ({row.RefusedAtRandom} refused at random by the courier)" : ""));
        }
        Line(string.Create(culture, $"  throughput   {CompletedSagasPerSecond:0.0} completed sagas/s over {MeasuredSeconds:0.0} s"));
        if (Ceiling is { } ceiling)
            Line(string.Create(culture, $"  ceiling      pgbench -N {ceiling.Tps:0} TPS ({ceiling.Clients} clients, {ceiling.Seconds:0} s); sagas/s : TPS = {RatioToCeiling:0.000}"));
        Line($"  end-to-end   {EndToEnd.Text}   (intended send -> final)");
        Line($"  from 202     {AcceptedToFinal.Text}   (order accepted -> final)");
        Line($"  accept       {Accept.Text}   (intended send -> 202)");
        Line("  errors       " + (Errors.Count == 0 ? "none" : string.Join(", ", Errors.OrderBy(e => e.Key).Select(e => $"{e.Key}: {e.Value}"))));
        if (Faults.Count > 0 || PoisonInjected.Count > 0 || Duplicated > 0)
        {
            var faults = Faults.GroupBy(f => f.Kind).Select(g => string.Create(culture, $"{g.Count()} x {g.Key} (back after {g.Average(f => f.DownSeconds):0.0} s on average)"));
            var lost = LostMessages > 0 ? [$"{LostMessages} messages lost"] : Array.Empty<string>();
            Line("  chaos        " + string.Join(", ", faults.Append($"{PoisonInjected.Values.Sum()} poison messages").Append($"{Duplicated} duplicates").Concat(lost)));
        }
        Line(Recovered
            ? string.Create(culture, $"  recovery     every saga final and every outbox empty {RecoverySeconds:0.0} s after the load (bound {RecoveryBoundSeconds:0} s)")
            : string.Create(culture, $"  recovery     NOT within the bound of {RecoveryBoundSeconds:0} s"));
        if (Stages.Count > 0)
        {
            Line("  where the time goes (measured sagas; p50 / p95 / p99 ms):");
            foreach (var stage in Stages)
                Line(string.Create(culture, $"    {stage.Stage,-58} {stage.P50,8:0.0} {stage.P95,8:0.0} {stage.P99,8:0.0}   ({stage.Count})"));
        }
        if (Cpu.Count > 0)
        {
            Line(SteadyCpuMillisecondsPerSaga is { } steady
                ? string.Create(culture, $"  CPU          {steady:0.00} ms per saga over every process after the warm-up ({CpuMillisecondsPerSaga:0.00} over the whole run, warm-up and drain included), so {Environment.ProcessorCount} cores alone would carry at most {CpuBoundSagasPerSecond:0} sagas/s; after the run, at rest, {Cpu.Sum(c => c.RestCores):0.00} cores busy")
                : string.Create(culture, $"  CPU          {CpuMillisecondsPerSaga:0.00} ms per saga over every process, the whole run, so {Environment.ProcessorCount} cores alone would carry at most {CpuBoundSagasPerSecond:0} sagas/s; after the run, at rest, {Cpu.Sum(c => c.RestCores):0.00} cores busy"));
            foreach (var share in Cpu.OrderByDescending(c => c.SteadyMillisecondsPerSaga ?? c.MillisecondsPerSaga))
                Line(string.Create(culture, $"    {share.Part,-28} {share.SteadyMillisecondsPerSaga ?? share.MillisecondsPerSaga,7:0.00} ms/saga ({share.MillisecondsPerSaga,6:0.00} over the run)   at rest {share.RestCores * 100,5:0.0} % of a core   ({share.Seconds:0.0} s in the run)"));
        }
        else if (CpuNotMeasured is not null)
            Line($"  CPU          not measured: {CpuNotMeasured}");
        if (SteadyMachine is { } machine)
        {
            Line(string.Create(culture, $"  machine      after the warm-up its cores were {machine.Ours:0.0%} busy with this system, {machine.Others:0.0%} with other processes, {machine.Stolen:0.0%} stolen by the hypervisor, {machine.Idle:0.0%} idle"));
            if (machine is { CoreBefore: { } before, CoreAfter: { } after })
                Line(string.Create(culture, $"  one core     before / after that window: arithmetic {before.ArithmeticNanoseconds:0.000} / {after.ArithmeticNanoseconds:0.000} ns per step, a walk through 8 MB {before.MemoryNanoseconds:0.0} / {after.MemoryNanoseconds:0.0} ns per step (its own CPU time: lower is a faster core)"));
        }
        if (Telemetry is { } telemetry)
        {
            var whole = telemetry.SpansPerCompleteTrace is { } perTrace ? string.Create(culture, $" (a whole trace holds {perTrace:0.0})") : "";
            var cost = telemetry.DashboardMicrosecondsPerSpan is { } micros ? string.Create(culture, $"; the dashboard used {micros:0} µs of CPU per span stored") : "";
            var traced = telemetry.Traced < 1 ? string.Create(culture, $" ({telemetry.Traced:0.0 %} of the sagas traced: the services sample them)") : "";
            Line(string.Create(culture, $"  telemetry    the dashboard stored {telemetry.SpansPerSaga:0.0} spans per saga{whole}; {telemetry.Complete} of {telemetry.Sampled} sampled traces whole{traced}{cost}; quiet {SettleSeconds:0.0} s after the recovery"));
            if (telemetry.Sampled > 0 && telemetry.Complete < telemetry.Sampled)
            {
                Line("               the services' exporters dropped the spans the dashboard could not take in: its CPU per saga above is for the spans it got, not for every span"
                    + (telemetry.Hops.Hops > 0 ? "," : ""));
                if (telemetry.Hops.Hops > 0)
                    Line("               and the hops below are those it stored: the busiest moments, when it fell behind, are the likeliest missing (sample traces for a fair breakdown)");
            }
            if (telemetry.Hops is { Hops: > 0 } hops)
            {
                Line(string.Create(culture, $"  hops         where a hop's time goes, from {hops.Hops} hops in the dashboard's spans of {hops.Traces} sampled traces (p50 / p95 / p99 ms):"));
                HopLine("writer's commit -> relay publishes", hops.ToPublish, "");
                HopLine("relay publishes -> handler starts", hops.ToHandler, "produce, broker, fetch, partition queue");
                HopLine("handler starts -> its commit", hops.Handling, "the process span");
                HopLine("  of which database statements", hops.Database, "their spans");
                HopLine("the whole hop", hops.Hop, "");
                void HopLine(string part, LatencySummary summary, string note) =>
                    Line(string.Create(culture, $"    {part,-58} {summary.P50,8:0.0} {summary.P95,8:0.0} {summary.P99,8:0.0}   {(note.Length > 0 ? $"({note})" : "")}"));
            }
        }
        if (TransactionsPerSaga.Count > 0)
            Line(string.Create(culture, $"  database     {TransactionsPerSaga.Values.Sum():0.0} transactions per saga ({RolledBackPerSaga.Values.Sum():0.00} rolled back): ")
                + string.Join(", ", TransactionsPerSaga.OrderBy(t => t.Key).Select(t => string.Create(culture, $"{t.Key} {t.Value:0.0}"))));
        Line("  invariants:");
        foreach (var invariant in Invariants)
        {
            Line($"    {invariant.Verdict}  {invariant.Name}: {invariant.Detail}");
            foreach (var offender in invariant.Offenders) Line($"          {offender}");
        }
        Line(InvariantsHold ? "  result       every invariant holds" : "  result       INVARIANTS VIOLATED");
        return text.ToString();
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LoadReport))]
public sealed partial class LoadReportJson : JsonSerializerContext;
