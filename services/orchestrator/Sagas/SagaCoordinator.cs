using System.Diagnostics;
using System.Diagnostics.Metrics;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Data;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Sagas;

/// <summary>
/// Runs the order saga's decisions against stored state: load (row lock), decide (pure), then save
/// (version check), record the timeline, and send what the decision asks for through the outbox,
/// those three in one round trip, all in the caller's transaction.
/// </summary>
internal sealed class SagaCoordinator(SagaDefinition<OrderPlaced> saga, SagaStore store, Outbox outbox, TimeProvider time)
{
    public static readonly ActivitySource Source = new("SagaAspire.Orchestrator");
    private static readonly Meter Meter = new("SagaAspire.Orchestrator");
    private static readonly Counter<long> Started = Meter.CreateCounter<long>("sagaaspire.sagas.started", "{saga}", "Sagas started.");
    private static readonly Counter<long> Ended = Meter.CreateCounter<long>("sagaaspire.sagas.ended", "{saga}", "Sagas that reached a final state, by status.");
    private static readonly Counter<long> Compensations = Meter.CreateCounter<long>("sagaaspire.sagas.compensations", "{step}", "Compensations requested, by step.");
    private static readonly Counter<long> OutcomesResent = Meter.CreateCounter<long>("sagaaspire.sagas.outcomes_resent", "{saga}",
        "Outcomes of final sagas sent again because their OrderPlaced arrived again, by status.");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("sagaaspire.saga.duration", "s", "Time from a saga's start to its final state.");
    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("sagaaspire.saga.step.duration", "s",
        "Time from sending a step's command (or its last resend) to the answer, by step and outcome (completed, failed, compensated).");
    private static long _inFlight;
    private static long _needsAttention;
    private static readonly ObservableGauge<long> InFlight = Meter.CreateObservableGauge("sagaaspire.sagas.in_flight",
        () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _inFlight), new KeyValuePair<string, object?>("saga.status", "active")),
            new Measurement<long>(Interlocked.Read(ref _needsAttention), new KeyValuePair<string, object?>("saga.status", "NeedsAttention")),
        },
        "{saga}", "Sagas not yet final: running or compensating, and those waiting for an operator.");

    /// <summary>Sets the in-flight figures (counted by the timeout scan, which reads the table anyway).</summary>
    internal static void ReportInFlight(long active, long needsAttention)
    {
        Interlocked.Exchange(ref _inFlight, active);
        Interlocked.Exchange(ref _needsAttention, needsAttention);
    }

    public SagaDefinition<OrderPlaced> Definition => saga;

    /// <summary>
    /// Starts the saga of a placed order, which the caller found not started (it holds the saga:
    /// the inbox's lock): its row, its timeline and its first command, in one round trip.
    /// </summary>
    public async Task StartAsync(NpgsqlTransaction transaction, string sagaId, OrderPlaced order, Guid causationId, CancellationToken cancellationToken)
    {
        var decision = saga.Start(sagaId, order, time.GetUtcNow(), Guid.CreateVersion7);
        await SendAsync(transaction, decision, causationId,
            [SagaStore.Insert(decision.State, order, CurrentStep(decision.State)), .. SagaStore.AppendTimeline(sagaId, decision.Timeline)], cancellationToken);
        Started.Add(1);
        Activity.Current?.SetTag("saga.id", sagaId).SetTag("order.id", order.OrderId).SetTag("saga.step", CurrentStep(decision.State));
    }

    /// <summary>
    /// Applies <paramref name="decide"/> to the stored saga, loaded here with its row locked.
    /// Null when there is no such saga. A reply's decision runs in the reply's own trace. Where
    /// the caller is not part of the saga (a timeout scan, an operator's request)
    /// <paramref name="spanInSagaTrace"/> names a span started in the saga's stored trace, so what
    /// it sends continues the saga's trace.
    /// </summary>
    public async Task<SagaDecision?> ApplyAsync(NpgsqlTransaction transaction, string sagaId,
        Func<SagaState, OrderPlaced, DateTimeOffset, SagaDecision> decide, Guid? causationId, string? spanInSagaTrace, CancellationToken cancellationToken) =>
        await ApplyAsync(transaction, await store.LoadForUpdateAsync(transaction.Connection!, transaction, sagaId, cancellationToken),
            decide, causationId, spanInSagaTrace, cancellationToken);

    /// <summary>The same, for a saga the caller loaded with its row locked (a message handler, in its first read).</summary>
    public async Task<SagaDecision?> ApplyAsync(NpgsqlTransaction transaction, StoredSaga? stored,
        Func<SagaState, OrderPlaced, DateTimeOffset, SagaDecision> decide, Guid? causationId, string? spanInSagaTrace, CancellationToken cancellationToken)
    {
        if (stored is null) return null;
        var sagaId = stored.State.SagaId;

        using var activity = spanInSagaTrace is null ? null : StartInSagaTrace(spanInSagaTrace, stored);
        var decision = decide(stored.State, stored.Data, time.GetUtcNow());
        // An ignored decision saves no state but may still send (a final saga's outcome, restated).
        // The save, the timeline and the messages go in one round trip.
        var save = decision.Ignored ? null : SagaStore.Update(decision.State, CurrentStep(decision.State), stored.Version);
        List<NpgsqlBatchCommand> changes = save is null ? [] : [save];
        changes.AddRange(SagaStore.AppendTimeline(sagaId, decision.Timeline));
        await SendAsync(transaction, decision, causationId, changes, cancellationToken);
        if (save is not null) SagaStore.EnsureSaved(save, sagaId, stored.Version);
        Record(stored.State, decision);
        return decision;
    }

    private static Activity? StartInSagaTrace(string name, StoredSaga stored)
    {
        ActivityContext.TryParse(stored.TraceParent, stored.TraceState, isRemote: true, out var sagaContext);
        var links = Activity.Current is { } caller ? new[] { new ActivityLink(caller.Context) } : null;
        var activity = Source.StartActivity(name, ActivityKind.Internal, sagaContext, links: links);
        activity?.SetTag("saga.id", stored.State.SagaId).SetTag("order.id", stored.Data.OrderId);
        return activity;
    }

    public string CurrentStep(SagaState state) => saga.Steps[state.CurrentStep].Name;

    /// <summary>Sends what the decision asks for, running <paramref name="alongside"/> (its state change) in the same round trip.</summary>
    private async Task SendAsync(NpgsqlTransaction transaction, SagaDecision decision, Guid? causationId, IReadOnlyList<NpgsqlBatchCommand> alongside,
        CancellationToken cancellationToken)
    {
        var messages = decision.Send.Select(m => new OutgoingMessage(m.Topic, decision.State.SagaId, m.Message)
        {
            MessageId = m.MessageId, CausationId = causationId,
        }).ToList();
        await outbox.EnqueueAsync(transaction, messages, alongside, cancellationToken);
    }

    private void Record(SagaState before, SagaDecision decision)
    {
        var after = decision.State;
        Activity.Current?.SetTag("saga.id", after.SagaId).SetTag("saga.step", CurrentStep(after));
        foreach (var entry in decision.Timeline.Where(e => e.Outcome == "compensation requested"))
            Compensations.Add(1, new KeyValuePair<string, object?>("saga.step", entry.Step));
        for (var i = 0; i < after.Steps.Count; i++)
        {
            var outcome = (before.Steps[i], after.Steps[i]) switch
            {
                (StepStatus.Requested, StepStatus.Completed) => "completed",
                (StepStatus.Requested, StepStatus.Failed) => "failed",
                (StepStatus.Compensating, StepStatus.Compensated) => "compensated",
                _ => null,
            };
            if (outcome is not null)
                StepDuration.Record((after.UpdatedAt - before.UpdatedAt).TotalSeconds,
                    new KeyValuePair<string, object?>("saga.step", saga.Steps[i].Name), new KeyValuePair<string, object?>("saga.step.outcome", outcome));
        }
        if (before.IsTerminal && decision.Send.Count > 0)
            OutcomesResent.Add(1, new KeyValuePair<string, object?>("saga.status", after.Status.ToString()));
        if (after.IsTerminal && !before.IsTerminal)
        {
            var status = new KeyValuePair<string, object?>("saga.status", after.Status.ToString());
            Ended.Add(1, status);
            Duration.Record((after.UpdatedAt - after.StartedAt).TotalSeconds, status);
        }
    }
}
