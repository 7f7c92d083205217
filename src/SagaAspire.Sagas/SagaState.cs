namespace SagaAspire.Sagas;

/// <summary>Where a saga stands as a whole.</summary>
public enum SagaStatus
{
    /// <summary>Going forward through its steps.</summary>
    Running,
    /// <summary>A step failed; completed steps are being undone in reverse order.</summary>
    Compensating,
    /// <summary>Every step completed.</summary>
    Completed,
    /// <summary>A step failed and every completed step was compensated.</summary>
    Failed,
    /// <summary>Cancelled by an operator and every completed step was compensated.</summary>
    Cancelled,
    /// <summary>A compensation kept failing; an operator must look (and may retry).</summary>
    NeedsAttention,
}

/// <summary>Where one step stands.</summary>
public enum StepStatus
{
    Pending,
    Requested,
    Completed,
    Failed,
    Compensating,
    Compensated,
}

/// <summary>
/// A saga's persisted state: small, serializable, and all a decision needs besides the message.
/// <see cref="PendingMessageId"/> is the identity of the command awaiting an answer; a resend
/// after a timeout reuses it, so the receiver's inbox recognises the resend. <see cref="Results"/>
/// holds what completed steps left for the outcome, by step name.
/// </summary>
public sealed record SagaState(
    string SagaId,
    SagaStatus Status,
    IReadOnlyList<StepStatus> Steps,
    int CurrentStep,
    Guid? PendingMessageId,
    int Attempt,
    DateTimeOffset? DeadlineAt,
    string? FailureReason,
    DateTimeOffset StartedAt,
    DateTimeOffset UpdatedAt,
    bool CancelRequested = false,
    IReadOnlyDictionary<string, string>? Results = null)
{
    public bool IsTerminal => Status is SagaStatus.Completed or SagaStatus.Failed or SagaStatus.Cancelled;

    /// <summary>Whether the saga waits on an answer and so can time out.</summary>
    public bool IsWaiting => Status is SagaStatus.Running or SagaStatus.Compensating && DeadlineAt is not null;

    internal SagaState WithStep(int index, StepStatus status)
    {
        var steps = Steps.ToArray();
        steps[index] = status;
        return this with { Steps = steps };
    }

    internal SagaState WithResult(string step, string result)
    {
        var results = Results is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(Results, StringComparer.Ordinal);
        results[step] = result;
        return this with { Results = results };
    }
}

/// <summary>One line of a saga's history: what happened to which step, and why.</summary>
public sealed record TimelineEntry(string Step, string Outcome, string? Reason, DateTimeOffset At);

/// <summary>A command or event a decision asks the orchestrator to send (through its outbox).</summary>
public sealed record SagaMessage(string Topic, object Message, Guid MessageId);

/// <summary>What a decision produced: the new state, what to send, and what to record.</summary>
public sealed record SagaDecision(SagaState State, IReadOnlyList<SagaMessage> Send, IReadOnlyList<TimelineEntry> Timeline)
{
    /// <summary>
    /// The message left the state as it was (late, duplicate or unexpected): nothing is saved, the
    /// timeline is recorded, and whatever <see cref="Send"/> holds (a final saga's outcome, stated
    /// again) is still sent.
    /// </summary>
    public bool Ignored { get; init; }
}
