namespace SagaAspire.Orchestrator.Sagas;

/// <summary>Timeouts and retries of the order saga, bound from the <c>Orchestrator</c> section.</summary>
public sealed class OrchestratorOptions
{
    public const string Section = "Orchestrator";

    /// <summary>How long a step waits for its answer before the command is re-sent (doubling each time).</summary>
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Sends of a step's command before the step counts as failed and the saga compensates.</summary>
    public int StepAttempts { get; set; } = 3;

    public TimeSpan CompensationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Sends of a compensation before the saga is parked as needing attention.</summary>
    public int CompensationAttempts { get; set; } = 8;

    /// <summary>How often overdue sagas are looked for.</summary>
    public TimeSpan TimeoutScanInterval { get; set; } = TimeSpan.FromSeconds(1);
}
