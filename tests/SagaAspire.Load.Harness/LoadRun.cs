using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace SagaAspire.Load;

/// <summary>A moment of a running load, for the progress display.</summary>
public sealed record ProgressSnapshot(string Phase, TimeSpan Elapsed, long Sent, long Accepted, long Final, long InFlight, double SagasPerSecond, long Errors);

/// <summary>
/// One run, start to end: the ceiling reference (pgbench), the baseline for the invariants, the
/// load with its faults, the wait for recovery, the figures, and the invariants.
/// </summary>
public static class LoadRun
{
    public static async Task<LoadReport> ExecuteAsync(SystemUnderTest system, LoadSettings settings, Action<string> log,
        Action<ProgressSnapshot>? progress = null, CancellationToken cancellationToken = default)
    {
        var startedAt = DateTime.UtcNow;
        var loadAverage = LoadAverage();

        CeilingResult? ceiling = null;
        if (settings.Ceiling is { } ceilingLength)
            ceiling = await Ceiling.MeasureAsync(system.Server, ceilingLength, settings.CeilingClients, log, cancellationToken);

        var baseline = await Invariants.BaselineAsync(system, cancellationToken);
        await using var tracker = new OrderTracker(system.Databases["orders"], system.KafkaBootstrapServers);
        await tracker.StartAsync(cancellationToken);
        using var driver = new LoadDriver(system.OrderUrls, settings, tracker);
        await using var chaos = new ChaosAgent(system, settings, log);

        log($"load: {settings.Describe()}");
        var clock = Stopwatch.StartNew();
        using var progressStop = new CancellationTokenSource();
        var phase = "load";
        var reporter = progress is null ? Task.CompletedTask : ReportProgressAsync(() => phase, clock, driver, tracker, progress, progressStop.Token);

        var transactionsBefore = await TransactionsAsync(system, cancellationToken);
        var spansBefore = system.Dashboard is { } dashboard ? await dashboard.SpanCountAsync(cancellationToken) : 0;
        var cpu = new CpuMeter(system);
        cpu.Start();
        chaos.Start();
        var load = driver.RunAsync(cancellationToken);
        // The steady window: from the end of the warm-up (the JIT's tier-up, the first connections
        // behind it) to the last send.
        await Task.WhenAny(load, Task.Delay(settings.Warmup, cancellationToken));
        cpu.MarkSteadyStart(tracker.Final);
        await load;
        cpu.MarkSteadyEnd(tracker.Final);
        phase = "recovery";
        await chaos.StopAsync(cancellationToken);
        var loadEnd = DateTime.UtcNow;
        log($"load: sent {driver.Counters.Sent} orders in {clock.Elapsed.TotalSeconds:0.0} s; waiting for every saga to finish (at most {settings.RecoveryTimeout.TotalSeconds:0} s)");
        var recovered = await WaitForRestAsync(system, settings, tracker, cancellationToken);
        var recoverySeconds = recovered ? (DateTime.UtcNow - loadEnd).TotalSeconds : (double?)null;
        phase = "settling";
        var settled = await cpu.SettleAsync(TimeSpan.FromSeconds(60), quietCores: 0.3, cancellationToken);
        cpu.Stop();
        var spansStored = system.Dashboard is { } board ? await board.SpanCountAsync(cancellationToken) - spansBefore : 0;
        var finalCount = Math.Max(1, tracker.Final);
        var transactionsAfter = await TransactionsAsync(system, cancellationToken);
        Dictionary<string, double> PerSaga(Func<(long All, long RolledBack), long> count) =>
            transactionsAfter.Where(t => transactionsBefore.ContainsKey(t.Key))
                .ToDictionary(t => t.Key, t => Math.Round((double)(count(t.Value) - count(transactionsBefore[t.Key])) / finalCount, 2));
        var transactions = PerSaga(t => t.All);
        var rolledBack = PerSaga(t => t.RolledBack);
        phase = "rest";
        await cpu.MeasureRestAsync(TimeSpan.FromSeconds(5), cancellationToken);
        var cpuShares = cpu.Shares(tracker.Final);
        await progressStop.CancelAsync();
        await reporter;

        await tracker.RefineAsync(settings.RunId, cancellationToken);
        var orders = tracker.Orders;
        var measured = orders.Where(o => o.Measured).ToList();
        var done = measured.Where(o => o.FinalAt is not null).ToList();
        var windowStart = measured.Count == 0 ? driver.MeasureFrom : measured.Min(o => o.IntendedAt);
        var windowEnd = done.Count == 0 ? windowStart : done.Max(o => o.FinalAt!.Value);
        var seconds = Math.Max(0.001, (windowEnd - windowStart).TotalSeconds);
        var sagasPerSecond = done.Count / seconds;

        log("invariants: checking");
        var invariants = await Invariants.CheckAsync(system, settings.RunId, baseline, orders,
            chaos.Poisoned.ToDictionary(p => p.Key, p => (IReadOnlyCollection<string>)[.. p.Value]), cancellationToken, chaos.PoisonMaybeLost());
        var stages = await StageTimingsAsync(system, done, cancellationToken);
        var telemetry = system.Dashboard is { } traces
            ? await TelemetryReport.CheckAsync(traces, system.Databases["orders"], [.. done.Select(o => o.OrderId)], spansStored, tracker.Final,
                cpu.SecondsOf("dashboard"), cancellationToken)
            : null;
        var outcomes = await Invariants.OutcomeTableAsync(system, settings.RunId, orders, cancellationToken);

        return new LoadReport
        {
            RunId = settings.RunId,
            Settings = settings.Describe() + $", order replicas {system.OrderUrls.Count}",
            StartedAt = startedAt,
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            LoadAverageAtStart = loadAverage,
            Sent = orders.Count,
            Outcomes = outcomes,
            Accepted = orders.Count(o => o.AcceptedAt is not null),
            NotAccepted = orders.Count(o => o.AcceptedAt is null),
            Final = orders.Count(o => o.FinalAt is not null),
            Measured = measured.Count,
            MeasuredSeconds = seconds,
            CompletedSagasPerSecond = sagasPerSecond,
            EndToEnd = LatencySummary.Of(done.Select(o => (o.FinalAt!.Value - o.IntendedAt).TotalMilliseconds).ToList()),
            AcceptedToFinal = LatencySummary.Of(done.Where(o => o.AcceptedAt is not null).Select(o => Math.Max(0, (o.FinalAt!.Value - o.AcceptedAt!.Value).TotalMilliseconds)).ToList()),
            Accept = LatencySummary.Of(measured.Where(o => o.AcceptedAt is not null).Select(o => (o.AcceptedAt!.Value - o.IntendedAt).TotalMilliseconds).ToList()),
            Errors = driver.Counters.Errors.ToDictionary(e => e.Key, e => e.Value),
            Ceiling = ceiling,
            RatioToCeiling = ceiling is null ? null : sagasPerSecond / ceiling.Tps,
            Faults = [.. chaos.Faults],
            PoisonInjected = chaos.Poisoned.ToDictionary(p => p.Key, p => p.Value.Count),
            Duplicated = chaos.Duplicated,
            LostMessages = chaos.LostMessages,
            Recovered = recovered,
            RecoverySeconds = recoverySeconds,
            RecoveryBoundSeconds = settings.RecoveryTimeout.TotalSeconds,
            Stages = stages,
            Cpu = cpuShares,
            SettleSeconds = settled.TotalSeconds,
            Telemetry = telemetry,
            CpuNotMeasured = cpu.NotMeasured,
            SteadyMachine = cpu.SteadyMachine(),
            TransactionsPerSaga = transactions,
            RolledBackPerSaga = rolledBack,
            Invariants = invariants,
            Baseline = baseline,
        };
    }

    /// <summary>Waits until every order of the run is final, no saga of it runs, and every outbox is empty.</summary>
    private static async Task<bool> WaitForRestAsync(SystemUnderTest system, LoadSettings settings, OrderTracker tracker, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + settings.RecoveryTimeout;
        var like = settings.RunId + "-%";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (tracker.Final >= tracker.Accepted
                    && await CountAsync(system.Databases["orders"], "SELECT count(*) FROM orders WHERE order_id LIKE $1 AND status = 'Pending'", like, cancellationToken) == 0
                    && await CountAsync(system.Databases["orchestrator"], "SELECT count(*) FROM sagas WHERE order_id LIKE $1 AND status IN ('Running', 'Compensating')", like, cancellationToken) == 0)
                {
                    var outboxes = 0L;
                    foreach (var database in system.Databases.Values)
                        outboxes += await CountAsync(database, "SELECT count(*) FROM messaging.outbox", null, cancellationToken);
                    if (outboxes == 0) return true;
                }
            }
            catch (NpgsqlException)
            {
                // not back yet
            }
            await Task.Delay(250, cancellationToken);
        }
        return false;
    }

    /// <summary>Transactions (commits and rollbacks, and of them the rollbacks) so far in each of the system's databases, from pg_stat_database.</summary>
    private static async Task<Dictionary<string, (long All, long RolledBack)>> TransactionsAsync(SystemUnderTest system, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, (long, long)>();
        try
        {
            await using var connection = new NpgsqlConnection(system.Server.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT datname, xact_commit + xact_rollback, xact_rollback FROM pg_stat_database WHERE datname = ANY($1)", connection);
            command.Parameters.Add(new() { Value = system.Databases.Keys.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) counts[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }
        catch (NpgsqlException)
        {
            // statistics are a nicety; the run goes on without them
        }
        return counts;
    }

    private static async Task<long> CountAsync(string connectionString, string sql, string? parameter, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null) command.Parameters.Add(new() { Value = parameter });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Where a saga's time goes, from the orchestrator's timeline: order stored, saga started,
    /// each recorded transition (entries recorded by one decision count as one point), and the
    /// order's final update. Each stage between two points is a round trip through the outbox
    /// relay, the broker, a participant (inbox, handler, commit) and back.
    /// </summary>
    private static async Task<IReadOnlyList<StageTiming>> StageTimingsAsync(SystemUnderTest system, IReadOnlyList<OrderRecord> done, CancellationToken cancellationToken)
    {
        var bySaga = done.Where(o => o.SagaId is not null).ToDictionary(o => o.SagaId!);
        if (bySaga.Count == 0) return [];
        var created = new Dictionary<string, DateTime>();
        await using (var connection = new NpgsqlConnection(system.Databases["orders"]))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT saga_id, created_at FROM orders WHERE saga_id = ANY($1)", connection);
            command.Parameters.Add(new() { Value = bySaga.Keys.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) created[reader.GetString(0)] = reader.GetDateTime(1);
        }

        var points = new Dictionary<string, List<(string Label, DateTime At)>>();
        await using (var connection = new NpgsqlConnection(system.Databases["orchestrator"]))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("""
                SELECT s.saga_id, 'saga started', s.started_at, 0::bigint FROM sagas s WHERE s.saga_id = ANY($1)
                UNION ALL
                SELECT t.saga_id, t.step || ' ' || t.outcome, t.at, t.id FROM saga_timeline t WHERE t.saga_id = ANY($1)
                ORDER BY 1, 4
                """, connection);
            command.Parameters.Add(new() { Value = bySaga.Keys.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var sagaId = reader.GetString(0);
                if (!points.TryGetValue(sagaId, out var list)) points[sagaId] = list = [];
                var at = reader.GetDateTime(2);
                if (list.Count > 0 && list[^1].At == at) continue; // recorded by the same decision
                list.Add((reader.GetString(1), at));
            }
        }

        var stages = new Dictionary<string, List<double>>();
        var order = new List<string>();
        void Add(string stage, double milliseconds)
        {
            if (!stages.TryGetValue(stage, out var list))
            {
                stages[stage] = list = [];
                order.Add(stage);
            }
            list.Add(milliseconds);
        }
        foreach (var (sagaId, list) in points)
        {
            var record = bySaga[sagaId];
            if (created.TryGetValue(sagaId, out var stored) && list.Count > 0 && list[0].Label == "saga started")
                Add("order stored -> saga started", (list[0].At - stored).TotalMilliseconds);
            for (var i = 1; i < list.Count; i++) Add($"{list[i - 1].Label} -> {list[i].Label}", (list[i].At - list[i - 1].At).TotalMilliseconds);
            if (list.Count > 0 && record.FinalAt is { } final) Add($"{list[^1].Label} -> order final", (final - list[^1].At).TotalMilliseconds);
        }
        return order.Select(stage =>
        {
            var summary = LatencySummary.Of(stages[stage]);
            return new StageTiming(stage, summary.Count, summary.P50, summary.P95, summary.P99);
        }).Where(s => s.Count * 100 >= bySaga.Count).ToList(); // paths taken by at least 1 % of the sagas
    }

    private static async Task ReportProgressAsync(Func<string> phase, Stopwatch clock, LoadDriver driver, OrderTracker tracker,
        Action<ProgressSnapshot> progress, CancellationToken cancellationToken)
    {
        var window = new Queue<(TimeSpan At, long Final)>();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = clock.Elapsed;
                var final = tracker.Final;
                window.Enqueue((now, final));
                while (window.Count > 1 && now - window.Peek().At > TimeSpan.FromSeconds(2)) window.Dequeue();
                var (then, finalThen) = window.Peek();
                var rate = now - then > TimeSpan.Zero ? (final - finalThen) / (now - then).TotalSeconds : 0;
                progress(new ProgressSnapshot(phase(), now, driver.Counters.Sent, tracker.Accepted, final, tracker.Accepted - final, rate, driver.Counters.ErrorCount));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static double? LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
