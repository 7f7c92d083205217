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
