namespace SagaAspire.Sagas;

/// <summary>How often and how patiently an action or a compensation is re-sent when no answer comes.</summary>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan InitialTimeout, double BackoffFactor = 2, TimeSpan? MaxTimeout = null)
{
    /// <summary>How long to wait for an answer to attempt <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan TimeoutFor(int attempt)
    {
        var timeout = InitialTimeout * Math.Pow(BackoffFactor, Math.Max(0, attempt - 1));
        return MaxTimeout is { } max && timeout > max ? max : timeout;
    }
}

/// <summary>
/// One step of a saga, declared: the command that performs it and where it goes, the replies that
/// say it completed or failed, and the command that undoes it with the reply that confirms that.
/// A step without a compensation has nothing to undo (a final, irreversible step).
/// </summary>
public sealed record SagaStep<TData>(
    string Name,
    string Topic,
    Func<TData, object> Action,
    Type CompletedBy,
    Type? FailedBy,
    Func<object, string>? FailureReason,
    RetryPolicy Retry)
{
    public string? CompensationTopic { get; init; }
    public Func<TData, object>? Compensation { get; init; }
    public Type? CompensatedBy { get; init; }
    public RetryPolicy CompensationRetry { get; init; } = new(10, TimeSpan.FromSeconds(5), 2, TimeSpan.FromMinutes(1));

    /// <summary>
    /// What the step's completed reply leaves for the saga's outcome (the delivery it booked, say),
    /// kept in the state under the step's name until the saga completes.
    /// </summary>
    public Func<object, string>? Result { get; init; }

    public bool CanCompensate => Compensation is not null && CompensationTopic is not null && CompensatedBy is not null;
}

/// <summary>
/// A saga: its steps in order, and the events it publishes when it ends. All decisions are pure
/// functions of (state, data, message, time): no I/O, so they are tested without infrastructure.
/// </summary>
public sealed class SagaDefinition<TData>
{
    public SagaDefinition(string name, IReadOnlyList<SagaStep<TData>> steps, string outcomeTopic,
        Func<TData, object> completed, Func<TData, string, object> failed)
        : this(name, steps, outcomeTopic, (data, _) => completed(data), failed)
    {
    }

    /// <param name="completed">The completed saga's event, from its data and the steps' <see cref="SagaStep{TData}.Result"/>s by step name.</param>
    public SagaDefinition(string name, IReadOnlyList<SagaStep<TData>> steps, string outcomeTopic,
        Func<TData, IReadOnlyDictionary<string, string>, object> completed, Func<TData, string, object> failed)
    {
        if (steps.Count == 0) throw new ArgumentException("A saga needs at least one step.", nameof(steps));
        if (steps.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != steps.Count)
            throw new ArgumentException("Step names must be unique.", nameof(steps));
        Name = name;
        Steps = steps;
        OutcomeTopic = outcomeTopic;
        Completed = completed;
        Failed = failed;
    }

    public string Name { get; }
    public IReadOnlyList<SagaStep<TData>> Steps { get; }
    public string OutcomeTopic { get; }
    public Func<TData, IReadOnlyDictionary<string, string>, object> Completed { get; }
    public Func<TData, string, object> Failed { get; }

    /// <summary>Every reply type some step waits for: what the orchestrator must consume.</summary>
    public IEnumerable<Type> ReplyTypes => Steps.SelectMany(s => new[] { s.CompletedBy, s.FailedBy, s.CompensatedBy }).OfType<Type>().Distinct();

    public SagaDecision Start(string sagaId, TData data, DateTimeOffset now, Func<Guid> newId)
    {
        var state = new SagaState(sagaId, SagaStatus.Running, [.. Steps.Select(_ => StepStatus.Pending)], 0, null, 0, null, null, now, now);
        var (requested, send) = Request(state, data, 0, now, newId());
        return new SagaDecision(requested, send, [new(Steps[0].Name, "requested", null, now)]);
    }

    /// <summary>Applies a reply from a participant.</summary>
    public SagaDecision Handle(SagaState state, TData data, object reply, DateTimeOffset now, Func<Guid> newId)
    {
        var type = reply.GetType();
        if (state.IsTerminal || state.Status == SagaStatus.NeedsAttention)
            return Ignore(state, type, $"the saga is {state.Status}", now);

        var step = Steps[state.CurrentStep];
        if (state.Status == SagaStatus.Running)
        {
            if (type == step.CompletedBy)
                return CompleteStep(state, data, reply, now, newId);
            if (type == step.FailedBy)
            {
                var reason = step.FailureReason?.Invoke(reply) ?? $"{step.Name} failed";
                return BeginCompensation(state with { FailureReason = reason }, data, now, newId,
                    new TimelineEntry(step.Name, "failed", reason, now), includeCurrent: false);
            }
        }
        else if (state.Status == SagaStatus.Compensating && type == step.CompensatedBy)
        {
            var compensated = state.WithStep(state.CurrentStep, StepStatus.Compensated);
            return ContinueCompensation(compensated, data, now, newId, [new(step.Name, "compensated", null, now)]);
        }
        return Ignore(state, type, $"no step waits for it while the saga is {state.Status} at step '{step.Name}'", now);
    }

    /// <summary>The deadline passed without an answer: re-send the same command, or give up on the step.</summary>
    public SagaDecision Timeout(SagaState state, TData data, DateTimeOffset now, Func<Guid> newId)
    {
        if (!state.IsWaiting || state.DeadlineAt > now) return new SagaDecision(state, [], []) { Ignored = true };
        var step = Steps[state.CurrentStep];
        var compensating = state.Status == SagaStatus.Compensating;
        var policy = compensating ? step.CompensationRetry : step.Retry;
        if (state.Attempt < policy.MaxAttempts)
        {
            var attempt = state.Attempt + 1;
            var resent = state with { Attempt = attempt, DeadlineAt = now + policy.TimeoutFor(attempt), UpdatedAt = now };
            var message = compensating ? step.Compensation!(data) : step.Action(data);
            var topic = compensating ? step.CompensationTopic! : step.Topic;
            return new SagaDecision(resent, [new(topic, message, state.PendingMessageId!.Value)],
                [new(step.Name, compensating ? "compensation resent" : "resent", $"no answer in time (attempt {attempt} of {policy.MaxAttempts})", now)]);
        }

        if (compensating)
        {
            var stuck = state with { Status = SagaStatus.NeedsAttention, DeadlineAt = null, UpdatedAt = now };
            return new SagaDecision(stuck, [], [new(step.Name, "needs attention", $"compensation unanswered after {policy.MaxAttempts} attempts", now)]);
        }

        // The action's outcome is unknown (its answer may be lost), so it is compensated too:
        // every compensation tolerates having nothing to undo.
        var reason = $"{step.Name} did not answer after {policy.MaxAttempts} attempts";
        return BeginCompensation(state with { FailureReason = reason }, data, now, newId,
            new TimelineEntry(step.Name, "timed out", reason, now), includeCurrent: true);
    }

    /// <summary>
    /// The message that started the saga arrived again: its sender never saw the outcome (the
    /// outcome, or the news of it, was lost). A final saga publishes its outcome once more, under a
    /// new message id so the receiver's inbox does not take it for the one it already has; a saga
    /// still on its way changes nothing (its own timeouts drive it) and records nothing.
    /// </summary>
    public SagaDecision Restate(SagaState state, TData data, DateTimeOffset now, Func<Guid> newId)
    {
        if (!state.IsTerminal) return new SagaDecision(state, [], []) { Ignored = true };
        return new SagaDecision(state, [new(OutcomeTopic, OutcomeOf(state, data), newId())], [new("saga", "outcome re-sent", $"{typeof(TData).Name} arrived again", now)])
        {
            Ignored = true,
        };
    }

    /// <summary>An operator cancels a saga that has not finished: what it did is undone.</summary>
    public SagaDecision Cancel(SagaState state, TData data, string reason, DateTimeOffset now, Func<Guid> newId)
    {
        if (state.IsTerminal || state.Status != SagaStatus.Running)
            return Ignore(state, typeof(SagaDefinition<TData>), $"a {state.Status} saga cannot be cancelled", now);
        return BeginCompensation(state with { FailureReason = reason, CancelRequested = true }, data, now, newId,
            new TimelineEntry(Steps[state.CurrentStep].Name, "cancelled", reason, now), includeCurrent: true);
    }

    /// <summary>An operator retries a saga that needs attention: its stuck compensation gets a fresh budget.</summary>
    public SagaDecision Retry(SagaState state, TData data, DateTimeOffset now, Func<Guid> newId)
    {
        if (state.Status != SagaStatus.NeedsAttention)
            return Ignore(state, typeof(SagaDefinition<TData>), $"only a saga that needs attention can be retried, not a {state.Status} one", now);
        var step = Steps[state.CurrentStep];
        var retried = state with
        {
            Status = SagaStatus.Compensating, Attempt = 1, PendingMessageId = newId(),
            DeadlineAt = now + step.CompensationRetry.TimeoutFor(1), UpdatedAt = now,
        };
        return new SagaDecision(retried, [new(step.CompensationTopic!, step.Compensation!(data), retried.PendingMessageId!.Value)],
            [new(step.Name, "compensation retried", "by an operator", now)]);
    }

    private SagaDecision CompleteStep(SagaState state, TData data, object reply, DateTimeOffset now, Func<Guid> newId)
    {
        var step = Steps[state.CurrentStep];
        var completed = state.WithStep(state.CurrentStep, StepStatus.Completed);
        if (step.Result is not null) completed = completed.WithResult(step.Name, step.Result(reply));
        var timeline = new List<TimelineEntry> { new(step.Name, "completed", null, now) };
        if (state.CurrentStep + 1 < Steps.Count)
        {
            var (requested, send) = Request(completed, data, state.CurrentStep + 1, now, newId());
            timeline.Add(new(Steps[state.CurrentStep + 1].Name, "requested", null, now));
            return new SagaDecision(requested, send, timeline);
        }
        var done = completed with { Status = SagaStatus.Completed, PendingMessageId = null, DeadlineAt = null, UpdatedAt = now };
        timeline.Add(new("saga", "completed", null, now));
        return new SagaDecision(done, [new(OutcomeTopic, OutcomeOf(done, data), newId())], timeline);
    }

    private SagaDecision BeginCompensation(SagaState state, TData data, DateTimeOffset now, Func<Guid> newId, TimelineEntry cause, bool includeCurrent)
    {
        // The current step either failed (nothing to undo) or its outcome is unknown (undo it too).
        var marked = state.WithStep(state.CurrentStep, includeCurrent ? StepStatus.Completed : StepStatus.Failed);
        return ContinueCompensation(marked with { Status = SagaStatus.Compensating, UpdatedAt = now }, data, now, newId, [cause]);
    }

    private SagaDecision ContinueCompensation(SagaState state, TData data, DateTimeOffset now, Func<Guid> newId, List<TimelineEntry> timeline)
    {
        var ending = state.CancelRequested ? SagaStatus.Cancelled : SagaStatus.Failed;
        for (var index = state.CurrentStep; index >= 0; index--)
        {
            if (state.Steps[index] != StepStatus.Completed) continue;
            var step = Steps[index];
            if (!step.CanCompensate)
            {
                timeline.Add(new(step.Name, "not compensated", "the step has no compensation", now));
                state = state.WithStep(index, StepStatus.Compensated);
                continue;
            }
            var id = newId();
            var compensating = state.WithStep(index, StepStatus.Compensating) with
            {
                CurrentStep = index, PendingMessageId = id, Attempt = 1,
                DeadlineAt = now + step.CompensationRetry.TimeoutFor(1), UpdatedAt = now,
            };
            timeline.Add(new(step.Name, "compensation requested", null, now));
            return new SagaDecision(compensating, [new(step.CompensationTopic!, step.Compensation!(data), id)], timeline);
        }

        var finished = state with { Status = ending, PendingMessageId = null, DeadlineAt = null, UpdatedAt = now };
        timeline.Add(new("saga", ending == SagaStatus.Cancelled ? "cancelled" : "failed", state.FailureReason, now));
        return new SagaDecision(finished, [new(OutcomeTopic, OutcomeOf(finished, data), newId())], timeline);
    }

    /// <summary>The event a final saga publishes: completed, or failed (and cancelled) with its reason.</summary>
    private object OutcomeOf(SagaState final, TData data) =>
        final.Status == SagaStatus.Completed ? Completed(data, final.Results ?? NoResults) : Failed(data, final.FailureReason ?? "failed");

    private static readonly IReadOnlyDictionary<string, string> NoResults = new Dictionary<string, string>();

    private (SagaState State, IReadOnlyList<SagaMessage> Send) Request(SagaState state, TData data, int index, DateTimeOffset now, Guid messageId)
    {
        var step = Steps[index];
        var requested = state.WithStep(index, StepStatus.Requested) with
        {
            CurrentStep = index, PendingMessageId = messageId, Attempt = 1,
            DeadlineAt = now + step.Retry.TimeoutFor(1), UpdatedAt = now,
        };
        return (requested, [new SagaMessage(step.Topic, step.Action(data), messageId)]);
    }

    private static SagaDecision Ignore(SagaState state, Type message, string reason, DateTimeOffset now) =>
        new(state, [], [new("saga", "ignored", $"{message.Name}: {reason}", now)]) { Ignored = true };
}
