using Xunit.Abstractions;

namespace SagaAspire.Load.Tests;

/// <summary>
/// A small load run with one kill -9: a few hundred sagas, a service killed and restarted mid-run,
/// then every invariant.
/// </summary>
public sealed class SmokeRun() : HarnessRun(Settings, ServiceSettings)
{
    public static readonly LoadSettings Settings = new()
    {
        Workers = 12,
        Count = 300,
        Mix = OutcomeMix.Default,
        Chaos = ChaosKinds.Kill,
        ChaosInterval = TimeSpan.FromSeconds(1.5),
        MaxFaults = 1,
        OutageLength = TimeSpan.FromSeconds(1),
        RecoveryTimeout = TimeSpan.FromSeconds(90),
        Ceiling = null,
        RunId = "smoke-" + Guid.NewGuid().ToString("N")[..8],
    };

    // Short step timeouts, so that a saga whose message went astray is re-sent soon.
    private static readonly Dictionary<string, string?> ServiceSettings = new()
    {
        ["Orchestrator__StepTimeout"] = "00:00:03",
        ["Orchestrator__CompensationTimeout"] = "00:00:03",
        ["Orchestrator__StepAttempts"] = "5",
    };
}

public sealed class a_few_hundred_sagas_with_a_service_killed_mid_run(SmokeRun run, ITestOutputHelper output)
    : a_harness_run<SmokeRun>(run), IClassFixture<SmokeRun>
{
    [Fact]
    public void a_service_was_killed_and_restarted_while_orders_came_in()
    {
        output.WriteLine(Run.Report.Summary());
        Run.Report.Faults.Count.ShouldBe(1, Log);
        Run.Report.Faults.Single().Kind.ShouldBe("kill");
        Run.Report.Faults.Single().At.ShouldBeLessThan(Run.Report.StartedAt + TimeSpan.FromMinutes(4));
        Run.Report.Sent.ShouldBe(SmokeRun.Settings.Count!.Value, Log);
    }

    [Fact]
    public void the_mix_of_outcomes_is_the_one_sent()
    {
        // Step timeouts are generous against one short kill, so every order ends as its kind intends.
        var outcomes = Run.Report.Invariants.Single(i => i.Name == "outcomes as intended by the mix");
        outcomes.Passed.ShouldBeTrue($"{outcomes.Detail}\n{string.Join('\n', outcomes.Offenders)}");
    }

    [Fact]
    public void delivery_refusals_are_rejected_with_the_delivery_reason_and_counted_apart()
    {
        // 300 orders of the default mix: 15 to a country not served, 9 to an area without slots.
        var rows = Run.Report.Outcomes.ToDictionary(r => r.Kind);
        foreach (var kind in new[] { "undeliverable", "no slot" })
        {
            rows[kind].Sent.ShouldBeGreaterThan(0, Log);
            rows[kind].DeliveryRefused.ShouldBe(rows[kind].Sent, Log);
            rows[kind].AsIntended.ShouldBe(rows[kind].Sent, Log);
        }
        rows["success"].Approved.ShouldBe(rows["success"].Sent, Log);
        rows["declined"].PaymentDeclined.ShouldBe(rows["declined"].Sent, Log);
        rows["out of stock"].StockRefused.ShouldBe(rows["out of stock"].Sent, Log);
        rows.Values.Sum(r => r.Sent).ShouldBe(Run.Report.Sent, Log);
    }

    [Fact]
    public async Task a_delivery_changed_afterwards_is_reported_by_the_delivery_invariants()
    {
        await using var connection = new Npgsql.NpgsqlConnection(Run.System.Databases["delivery"]);
        await connection.OpenAsync();
        async Task<(string SagaId, string OrderId)> Pick(string status)
        {
            await using var pick = new Npgsql.NpgsqlCommand("SELECT saga_id, order_id FROM deliveries WHERE order_id LIKE $1 AND status = $2 LIMIT 1", connection);
            pick.Parameters.Add(new() { Value = SmokeRun.Settings.RunId + "-%" });
            pick.Parameters.Add(new() { Value = status });
            await using var reader = await pick.ExecuteReaderAsync();
            (await reader.ReadAsync()).ShouldBeTrue($"the run has no {status} delivery");
            return (reader.GetString(0), reader.GetString(1));
        }
        async Task Execute(string sql, string sagaId)
        {
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            command.Parameters.Add(new() { Value = sagaId });
            (await command.ExecuteNonQueryAsync()).ShouldBeGreaterThan(0, sql);
        }
        async Task<Dictionary<string, InvariantResult>> Check() =>
            (await Invariants.CheckAsync(Run.System, SmokeRun.Settings.RunId, Run.Report.Baseline!, sent: null, poisoned: null, CancellationToken.None))
                .ToDictionary(r => r.Name);
        const string approvedDelivered = "every approved order has exactly one scheduled delivery";
        const string rejectedDelivered = "no rejected order keeps a scheduled delivery";
        const string slots = "every delivery slot's bookings are its scheduled deliveries";

        // An approved order's delivery cancelled behind the saga's back, its place not given back.
        var (approvedSaga, approvedOrder) = await Pick("scheduled");
        await Execute("UPDATE deliveries SET status = 'cancelled' WHERE saga_id = $1", approvedSaga);
        try
        {
            var results = await Check();
            results[approvedDelivered].Passed.ShouldBeFalse();
            results[approvedDelivered].Offenders.ShouldContain(o => o.Contains(approvedOrder));
            results[slots].Passed.ShouldBeFalse();
            results[rejectedDelivered].Passed.ShouldBeTrue();
            results["stock conserved"].Passed.ShouldBeTrue();
        }
        finally
        {
            await Execute("UPDATE deliveries SET status = 'scheduled' WHERE saga_id = $1", approvedSaga);
        }

        // A rejected order's refused delivery turned into a booking on a day no slot counts.
        var (refusedSaga, refusedOrder) = await Pick("refused");
        await Execute("UPDATE deliveries SET status = 'scheduled', delivery_id = 'dlv_invariant_test', day = current_date + 1 WHERE saga_id = $1", refusedSaga);
        try
        {
            var results = await Check();
            results[rejectedDelivered].Passed.ShouldBeFalse();
            results[rejectedDelivered].Offenders.ShouldContain(o => o.Contains(refusedOrder));
            results[slots].Passed.ShouldBeFalse();
            results[approvedDelivered].Passed.ShouldBeTrue();
        }
        finally
        {
            await Execute("UPDATE deliveries SET status = 'refused', delivery_id = NULL, day = NULL WHERE saga_id = $1", refusedSaga);
        }

        // One place more booked on a day than its deliveries hold.
        await Execute("UPDATE delivery_slots SET booked = booked + 1 WHERE (country, day) = (SELECT country, day FROM deliveries WHERE saga_id = $1)", approvedSaga);
        try
        {
            var results = await Check();
            results[slots].Passed.ShouldBeFalse();
            results[approvedDelivered].Passed.ShouldBeTrue();
        }
        finally
        {
            await Execute("UPDATE delivery_slots SET booked = booked - 1 WHERE (country, day) = (SELECT country, day FROM deliveries WHERE saga_id = $1)", approvedSaga);
        }

        // An approved order's saga given a refund (of nothing: a tombstone, so no sum changes).
        await using var payment = new Npgsql.NpgsqlConnection(Run.System.Databases["payment"]);
        await payment.OpenAsync();
        async Task Refund(string sql)
        {
            await using var command = new Npgsql.NpgsqlCommand(sql, payment);
            command.Parameters.Add(new() { Value = approvedSaga });
            (await command.ExecuteNonQueryAsync()).ShouldBe(1, sql);
        }
        await Refund("INSERT INTO refunds (saga_id, amount) VALUES ($1, 0)");
        try
        {
            var results = await Check();
            results["every refund belongs to a rejected order"].Passed.ShouldBeFalse();
            results["every refund belongs to a rejected order"].Offenders.ShouldContain(o => o.Contains(approvedOrder));
            results["charged minus refunded = approved totals"].Passed.ShouldBeTrue();
        }
        finally
        {
            await Refund("DELETE FROM refunds WHERE saga_id = $1");
        }

        (await Check()).Values.Where(r => !r.IsExpectation).ShouldAllBe(r => r.Passed);
    }

    [Fact]
    public async Task a_charge_changed_afterwards_is_reported_by_the_payment_invariants()
    {
        await using var connection = new Npgsql.NpgsqlConnection(Run.System.Databases["payment"]);
        await connection.OpenAsync();
        await using var pick = new Npgsql.NpgsqlCommand("SELECT saga_id, order_id FROM payments WHERE order_id LIKE $1 AND status = 'charged' LIMIT 1", connection);
        pick.Parameters.Add(new() { Value = SmokeRun.Settings.RunId + "-%" });
        string sagaId, orderId;
        await using (var reader = await pick.ExecuteReaderAsync())
        {
            (await reader.ReadAsync()).ShouldBeTrue("the run approved no order");
            (sagaId, orderId) = (reader.GetString(0), reader.GetString(1));
        }

        async Task Shift(decimal by)
        {
            await using var update = new Npgsql.NpgsqlCommand("UPDATE payments SET amount = amount + $2 WHERE saga_id = $1", connection);
            update.Parameters.Add(new() { Value = sagaId });
            update.Parameters.Add(new() { Value = by });
            (await update.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        await Shift(1m);
        try
        {
            var results = await Invariants.CheckAsync(Run.System, SmokeRun.Settings.RunId, Run.Report.Baseline!, sent: null, poisoned: null, CancellationToken.None);
            var once = results.Single(r => r.Name == "every approved order charged exactly once");
            once.Passed.ShouldBeFalse();
            once.Offenders.ShouldContain(o => o.Contains(orderId));
            results.Single(r => r.Name == "charged minus refunded = approved totals").Passed.ShouldBeFalse();
            results.Single(r => r.Name == "stock conserved").Passed.ShouldBeTrue();
        }
        finally
        {
            await Shift(-1m);
        }
    }
}
