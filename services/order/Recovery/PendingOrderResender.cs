using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Order.Data;

namespace SagaAspire.Order.Recovery;

/// <summary>
/// Sends OrderPlaced again for orders that stay Pending: a broker that lost the first one would
/// leave the saga unstarted, one that lost the outcome would leave the order Pending after the
/// saga ended. Each re-send has a new message id (the orchestrator's inbox must not skip it) and
/// the order's saga id and body; the orchestrator starts the saga, sends a final saga's outcome
/// again, or ignores it while the saga runs. The wait doubles per order, up to a cap. Replicas
/// share the work: each due order is claimed with SKIP LOCKED.
/// </summary>
internal sealed class PendingOrderResender(NpgsqlDataSource dataSource, Outbox outbox, IOptions<PendingOrdersOptions> options,
    ILogger<PendingOrderResender> logger) : BackgroundService
{
    public static readonly ActivitySource Source = new("SagaAspire.Order");
    private static readonly Meter Meter = new("SagaAspire.Order");
    private static readonly Counter<long> Resent = Meter.CreateCounter<long>("sagaaspire.orders.resent", "{message}",
        "OrderPlaced messages sent again because their order stayed Pending.");
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ResendScanInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                while (await ResendDueAsync(stoppingToken) == BatchSize) { }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                OrderLog.ResendScanFailed(logger, ex);
            }
        }
    }

    /// <summary>Sends OrderPlaced again for up to a batch of due orders in one transaction; returns how many.</summary>
    internal async Task<int> ResendDueAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var due = await OrderStore.ClaimDueForResendAsync(transaction, settings.ResendPendingAfter, BatchSize, cancellationToken);
        if (due.Count == 0) return 0;

        using var wakeUp = outbox.WakeUpAfterCommit(transaction);
        var scheduled = new List<(string OrderId, TimeSpan Wait)>(due.Count);
        foreach (var order in due)
        {
            // The re-send belongs to the order's trace, as the first send did, not to this scan.
            using var activity = StartInOrderTrace(order);
            await outbox.EnqueueAsync(transaction, new OutgoingMessage(Topics.Orders, order.SagaId, order.Placed)
            {
                TraceParent = activity is null ? order.TraceParent : null,
                TraceState = activity is null ? order.TraceState : null,
            }, cancellationToken);
            scheduled.Add((order.Placed.OrderId, settings.WaitAfter(order.ResendCount + 1)));
            OrderLog.OrderPlacedResent(logger, order.Placed.OrderId, order.SagaId, order.ResendCount + 1);
        }
        await OrderStore.ScheduleNextResendAsync(transaction, scheduled, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        wakeUp.Committed();
        Resent.Add(due.Count);
        return due.Count;
    }

    private static Activity? StartInOrderTrace(PendingOrder order)
    {
        ActivityContext.TryParse(order.TraceParent, order.TraceState, isRemote: true, out var orderContext);
        var activity = Source.StartActivity("order resend", ActivityKind.Internal, orderContext);
        activity?.SetTag("order.id", order.Placed.OrderId).SetTag("saga.id", order.SagaId).SetTag("order.resend_count", order.ResendCount + 1);
        return activity;
    }
}
