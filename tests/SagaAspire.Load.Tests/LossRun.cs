using Xunit.Abstractions;

namespace SagaAspire.Load.Tests;

/// <summary>
/// A small load run in which one service loses every message in flight to and from it (the loss
/// fault: killed, its consumer group moved past what it had not processed, the rows in its outbox
/// deleted). Only the recovery paths can finish those sagas: the orchestrator's step
/// timeouts, the participants' replies sent again for a repeated command, and the order
/// service's OrderPlaced sent again for an order left Pending.
/// </summary>
public sealed class LossRun() : HarnessRun(Settings, ServiceSettings)
{
    public static readonly LoadSettings Settings = new()
    {
        Workers = 12,
        Count = 300,
        Mix = OutcomeMix.Default,
        Chaos = ChaosKinds.Loss,
        ChaosInterval = TimeSpan.FromSeconds(4),
        MaxFaults = 1,
        OutageLength = TimeSpan.FromSeconds(3),
        RecoveryTimeout = TimeSpan.FromSeconds(120),
        Ceiling = null,
        RunId = "loss-" + Guid.NewGuid().ToString("N")[..8],
    };

    private static readonly Dictionary<string, string?> ServiceSettings = new()
    {
        ["Orchestrator__StepTimeout"] = "00:00:03",
        ["Orchestrator__CompensationTimeout"] = "00:00:03",
        ["Orchestrator__StepAttempts"] = "5",
        ["Orders__ResendPendingAfter"] = "00:00:03",
    };
}

public sealed class a_few_hundred_sagas_with_every_message_in_flight_to_one_service_lost(LossRun run, ITestOutputHelper output)
    : a_harness_run<LossRun>(run), IClassFixture<LossRun>
{
    [Fact]
    public void messages_were_lost_while_orders_came_in()
    {
        output.WriteLine(Run.Report.Summary());
        Run.Report.Faults.Select(f => f.Kind).ShouldBe(["loss"], Log);
        Run.Report.LostMessages.ShouldBeGreaterThan(0, Log);
        Run.Report.Sent.ShouldBe(LossRun.Settings.Count!.Value, Log);
    }
}
