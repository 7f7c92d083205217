using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Npgsql;
using SagaAspire.Contracts;

namespace SagaAspire.Load;

/// <summary>
/// One invariant after a run: passed or not, the counts behind it, and the ids that break it.
/// An expectation (<see cref="IsExpectation"/>) is reported but is not a consistency violation.
/// </summary>
public sealed record InvariantResult(string Name, bool Passed, string Detail, IReadOnlyList<string> Offenders, bool IsExpectation = false)
{
    public string Verdict => Passed ? "PASS" : IsExpectation ? "WARN" : "FAIL";
}

/// <summary>Why a saga was rejected: the first of its steps that failed, timed out for good or was cancelled.</summary>
public sealed record RejectionCause(string Step, string Outcome, string? Reason);

/// <summary>How an order ended, as the outcome table counts it.</summary>
public enum Ending
{
    Approved,

    /// <summary>The reservation was refused (unknown product, not enough stock).</summary>
    StockRefused,

    /// <summary>The charge was declined.</summary>
    PaymentDeclined,

    /// <summary>The delivery was refused (a country not served, no free slot, the courier at random): refunded, then released.</summary>
    DeliveryRefused,

    /// <summary>A step went unanswered for good and the saga compensated.</summary>
    TimedOut,

    /// <summary>Rejected otherwise: cancelled by an operator, or no cause on the saga's timeline.</summary>
    OtherRejection,

    /// <summary>Not accepted, or still Pending.</summary>
    NotFinal,
}

/// <summary>What each kind of order is meant to end as, and how an ending is named.</summary>
public static class Outcomes
{
    public static Ending EndingOf(string status, RejectionCause? cause) => status switch
    {
        "Approved" => Ending.Approved,
        "Rejected" => cause switch
        {
            { Outcome: "timed out" } => Ending.TimedOut,
            { Outcome: "failed", Step: "inventory" } => Ending.StockRefused,
            { Outcome: "failed", Step: "payment" } => Ending.PaymentDeclined,
            { Outcome: "failed", Step: "delivery" } => Ending.DeliveryRefused,
            _ => Ending.OtherRejection,
        },
        _ => Ending.NotFinal,
    };

    /// <summary>Whether the ending (and the order's reason, for the delivery kinds) is the one the kind is built for.</summary>
    public static bool AsIntended(OrderKind kind, Ending ending, string? reason) => kind switch
    {
        OrderKind.Success => ending == Ending.Approved,
        OrderKind.Declined => ending == Ending.PaymentDeclined,
        OrderKind.OutOfStock => ending == Ending.StockRefused,
        OrderKind.Undeliverable => ending == Ending.DeliveryRefused && reason == OrderBodies.UnservedRefusal,
        OrderKind.NoSlot => ending == Ending.DeliveryRefused && reason?.StartsWith(OrderBodies.NoSlotRefusal, StringComparison.Ordinal) == true,
        _ => false,
    };

    /// <summary>
    /// Refused by the courier's random failure rate: only orders that reach the booking can be (the
    /// unserved country is refused before the dice are thrown).
    /// </summary>
    public static bool RefusedAtRandom(OrderKind kind, Ending ending, string? reason) =>
        kind is OrderKind.Success or OrderKind.NoSlot && ending == Ending.DeliveryRefused
        && reason?.StartsWith(OrderBodies.RandomRefusal, StringComparison.Ordinal) == true;

    public static string Label(OrderKind kind) => kind switch
    {
        OrderKind.OutOfStock => "out of stock",
        OrderKind.NoSlot => "no slot",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static string Label(Ending ending) => ending switch
    {
        Ending.StockRefused => "stock refused",
        Ending.PaymentDeclined => "payment declined",
        Ending.DeliveryRefused => "delivery refused",
        Ending.TimedOut => "timed out",
        Ending.OtherRejection => "rejected otherwise",
        Ending.NotFinal => "not final",
        _ => "approved",
    };
}

/// <summary>What the invariants compare against: the state before the run.</summary>
public sealed record RunBaseline(IReadOnlyDictionary<string, (int Available, int Reserved, int Sold)> Stock, IReadOnlyDictionary<string, long> DeadLetterOffsets,
    long DeadLetterRows);

/// <summary>
/// The invariants of a saga system at rest, checked by SQL on each service's database and by
/// reading the dead-letter topics. Only the orders of one run count (their ids start with the
/// run id), so a shared system's other orders do not get in the way; outboxes, stock and
/// delivery slots are checked whole.
/// </summary>
public static class Invariants
{
    private const int MaxOffenders = 20;

    /// <summary>The load products' stock and the dead-letter topics' ends, before the run.</summary>
    public static async Task<RunBaseline> BaselineAsync(SystemUnderTest system, CancellationToken cancellationToken)
    {
        var stock = await StockAsync(system.Databases["inventory"], cancellationToken);
        var offsets = new Dictionary<string, long>();
        if (system.KafkaBootstrapServers is { } kafka)
        {
            using var consumer = NewReader(kafka);
            foreach (var partition in KafkaTopics.Partitions(kafka, DeadLetterTopics))
                offsets[Key(partition)] = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(20)).High.Value;
        }
        return new RunBaseline(stock, offsets, await DeadLetterRowsAsync(system, cancellationToken));
    }

    public static IEnumerable<string> DeadLetterTopics => Topics.All.Select(t => t + ".dlq");

    /// <summary>Checks every invariant. <paramref name="sent"/> (optional) adds the checks that need the harness's own records.</summary>
    public static async Task<IReadOnlyList<InvariantResult>> CheckAsync(SystemUnderTest system, string runId, RunBaseline baseline,
        IReadOnlyCollection<OrderRecord>? sent, IReadOnlyDictionary<string, IReadOnlyCollection<string>>? poisoned, CancellationToken cancellationToken,
        IReadOnlySet<string>? poisonMaybeLost = null)
    {
        var like = runId + "-%";
        var orders = await ReadOrdersAsync(system, like, cancellationToken);
        var sagas = await ReadAsync(system.Databases["orchestrator"], "SELECT saga_id, order_id, status FROM sagas WHERE order_id LIKE $1",
            r => (SagaId: r.GetString(0), OrderId: r.GetString(1), Status: r.GetString(2)), cancellationToken, like);
        var payments = (await ReadAsync(system.Databases["payment"], "SELECT saga_id, amount, status FROM payments WHERE order_id LIKE $1",
            r => (SagaId: r.GetString(0), Amount: r.GetDecimal(1), Status: r.GetString(2)), cancellationToken, like)).ToDictionary(p => p.SagaId);
        var sagaIds = orders.Select(o => o.SagaId).ToArray();
        var refunds = (await ReadAsync(system.Databases["payment"], "SELECT saga_id, amount FROM refunds WHERE saga_id = ANY($1)",
            r => (SagaId: r.GetString(0), Amount: r.GetDecimal(1)), cancellationToken, (object)sagaIds)).ToDictionary(r => r.SagaId, r => r.Amount);
        var deliveries = await ReadAsync(system.Databases["delivery"],
            "SELECT saga_id, order_id, status, delivery_id, country, day FROM deliveries WHERE order_id LIKE $1",
            r => new StoredDelivery(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetFieldValue<DateOnly>(5)), cancellationToken, like);

        var results = new List<InvariantResult>
        {
            EverySagaFinal(orders, sagas),
        };
        if (sent is not null) results.Add(EveryAcceptedOrderStored(orders, sent));
        results.Add(await StockConservedAsync(system, like, baseline, orders, cancellationToken));
        results.AddRange(Payments(orders, payments, refunds));
        results.Add(EveryRefundRejected(orders, payments, refunds));
        results.Add(EveryApprovedOrderDelivered(orders, deliveries));
        results.Add(NoRejectedOrderDelivered(orders, deliveries));
        results.Add(await SlotsMatchDeliveriesAsync(system, deliveries, cancellationToken));
        results.Add(await OutboxesDrainedAsync(system, cancellationToken));
        if (system.KafkaBootstrapServers is { } kafka)
            results.Add(DeadLetters(kafka, baseline, poisoned ?? new Dictionary<string, IReadOnlyCollection<string>>(), poisonMaybeLost ?? new HashSet<string>(),
                await DeadLetterRowsAsync(system, cancellationToken)));
        if (sent is not null)
            results.Add(OutcomesAsIntended(orders, await RejectionCausesAsync(system, orders.Where(o => o.Status == "Rejected").Select(o => o.SagaId), cancellationToken), sent));
        return results;
    }

    private sealed record StoredOrder(string OrderId, string SagaId, string Status, decimal Total, string Lines, string? Reason, string? Country, DeliveryBooking? Delivery)
    {
        public IEnumerable<(string Sku, int Quantity)> Items()
        {
            using var document = JsonDocument.Parse(Lines);
            return document.RootElement.EnumerateArray()
                .Select(line => (line.GetProperty("sku").GetString()!, line.GetProperty("quantity").GetInt32())).ToList();
        }
    }

    /// <summary>A delivery of the run as the delivery service stores it (one per saga).</summary>
    private sealed record StoredDelivery(string SagaId, string OrderId, string Status, string? DeliveryId, string? Country, DateOnly? Day);

    private static async Task<List<StoredOrder>> ReadOrdersAsync(SystemUnderTest system, string like, CancellationToken cancellationToken) =>
        await ReadAsync(system.Databases["orders"], """
            SELECT order_id, saga_id, status, total, lines::text, reason, delivery_address ->> 'country', delivery ->> 'deliveryId', delivery ->> 'date'
            FROM orders WHERE order_id LIKE $1
            """,
            r => new StoredOrder(r.GetString(0), r.GetString(1), r.GetString(2), r.GetDecimal(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                r.IsDBNull(6) ? null : r.GetString(6),
                r.IsDBNull(7) ? null : new DeliveryBooking(r.GetString(7), DateOnly.ParseExact(r.GetString(8), "yyyy-MM-dd", CultureInfo.InvariantCulture))),
            cancellationToken, like);

    private static InvariantResult EverySagaFinal(List<StoredOrder> orders, List<(string SagaId, string OrderId, string Status)> sagas)
    {
        var sagaById = sagas.ToDictionary(s => s.SagaId);
        var offenders = new List<string>();
        var pending = orders.Where(o => o.Status == "Pending").ToList();
        offenders.AddRange(pending.Select(o => $"order {o.OrderId} Pending"));
        var open = sagas.Where(s => s.Status is not ("Completed" or "Failed" or "Cancelled")).ToList();
        offenders.AddRange(open.Select(s => $"saga {s.SagaId} ({s.OrderId}) {s.Status}"));
        var missing = orders.Where(o => !sagaById.ContainsKey(o.SagaId)).ToList();
        offenders.AddRange(missing.Select(o => $"order {o.OrderId} ({o.Status}) has no saga"));
        var disagree = orders.Where(o => sagaById.TryGetValue(o.SagaId, out var saga) && o.Status != "Pending" && saga.Status is "Completed" or "Failed" or "Cancelled"
            && (o.Status == "Approved") != (saga.Status == "Completed")).ToList();
        offenders.AddRange(disagree.Select(o => $"order {o.OrderId} {o.Status} but saga {sagaById[o.SagaId].Status}"));
        return new InvariantResult("every saga final", offenders.Count == 0,
            $"{orders.Count} orders ({orders.Count(o => o.Status == "Approved")} approved, {orders.Count(o => o.Status == "Rejected")} rejected, {pending.Count} pending); " +
            $"{sagas.Count} sagas, {open.Count} not final; {missing.Count} orders without a saga; {disagree.Count} orders disagreeing with their saga",
            Cap(offenders));
    }

    private static InvariantResult EveryAcceptedOrderStored(List<StoredOrder> orders, IReadOnlyCollection<OrderRecord> sent)
    {
        var stored = orders.Select(o => o.OrderId).ToHashSet();
        var lost = sent.Where(o => o.AcceptedAt is not null && !stored.Contains(o.OrderId)).Select(o => $"order {o.OrderId} accepted but not stored").ToList();
        return new InvariantResult("every accepted order stored", lost.Count == 0,
            $"{sent.Count(o => o.AcceptedAt is not null)} accepted, {lost.Count} missing", Cap(lost));
    }

    private static async Task<InvariantResult> StockConservedAsync(SystemUnderTest system, string like, RunBaseline baseline, List<StoredOrder> orders, CancellationToken cancellationToken)
    {
        var now = await StockAsync(system.Databases["inventory"], cancellationToken);
        var held = await ReadAsync(system.Databases["inventory"], "SELECT saga_id FROM reservations WHERE order_id LIKE $1 AND status = 'reserved'",
            r => r.GetString(0), cancellationToken, like);
        var soldByOrders = orders.Where(o => o.Status == "Approved").SelectMany(o => o.Items())
            .GroupBy(i => i.Sku).ToDictionary(g => g.Key, g => g.Sum(i => i.Quantity));
        var offenders = new List<string>();
        foreach (var (sku, after) in now)
        {
            if (after.Reserved != 0) offenders.Add($"{sku}: {after.Reserved} reserved at rest");
            if (!baseline.Stock.TryGetValue(sku, out var before)) continue;
            var total = before.Available + before.Reserved + before.Sold;
            if (after.Available + after.Reserved + after.Sold != total)
                offenders.Add($"{sku}: available {after.Available} + reserved {after.Reserved} + sold {after.Sold} != initial {total}");
            var sold = after.Sold - before.Sold;
            var expected = soldByOrders.GetValueOrDefault(sku);
            if (sold != expected) offenders.Add($"{sku}: {sold} sold during the run, approved orders hold {expected}");
        }
        offenders.AddRange(held.Select(s => $"reservation of saga {s} still held"));
        var soldInRun = now.Where(p => baseline.Stock.ContainsKey(p.Key)).Sum(p => (long)p.Value.Sold - baseline.Stock[p.Key].Sold);
        var summary = $"{now.Count} products: {soldInRun} units sold in the run (approved orders hold {soldByOrders.Values.Sum()}), " +
            $"{now.Values.Sum(p => (long)p.Reserved)} reserved at rest, {held.Count} reservations held";
        return new InvariantResult("stock conserved", offenders.Count == 0, summary, Cap(offenders));
    }

    private static IEnumerable<InvariantResult> Payments(List<StoredOrder> orders, Dictionary<string, (string SagaId, decimal Amount, string Status)> payments,
        Dictionary<string, decimal> refunds)
    {
        decimal Charged(string sagaId) => payments.TryGetValue(sagaId, out var p) && p.Status is "charged" or "refunded" ? p.Amount : 0m;
        decimal Net(string sagaId) => Charged(sagaId) - refunds.GetValueOrDefault(sagaId);

        var charged = payments.Values.Where(p => p.Status is "charged" or "refunded").Sum(p => p.Amount);
        var refunded = refunds.Values.Sum();
        var approvedTotal = orders.Where(o => o.Status == "Approved").Sum(o => o.Total);
        yield return new InvariantResult("charged minus refunded = approved totals", charged - refunded == approvedTotal,
            $"charged {Money(charged)} - refunded {Money(refunded)} = {Money(charged - refunded)}; approved orders total {Money(approvedTotal)}", []);

        var approvedWrong = orders.Where(o => o.Status == "Approved")
            .Where(o => !payments.TryGetValue(o.SagaId, out var p) || p.Status != "charged" || p.Amount != o.Total || refunds.GetValueOrDefault(o.SagaId) != 0)
            .Select(o => payments.TryGetValue(o.SagaId, out var p)
                ? $"order {o.OrderId} approved: payment {p.Status} {Money(p.Amount)} (total {Money(o.Total)}), refunded {Money(refunds.GetValueOrDefault(o.SagaId))}"
                : $"order {o.OrderId} approved without a payment").ToList();
        yield return new InvariantResult("every approved order charged exactly once", approvedWrong.Count == 0,
            $"{orders.Count(o => o.Status == "Approved")} approved, {approvedWrong.Count} without exactly one charge of their total", Cap(approvedWrong));

        var rejectedCharged = orders.Where(o => o.Status == "Rejected" && Net(o.SagaId) != 0)
            .Select(o => $"order {o.OrderId} rejected with a net charge of {Money(Net(o.SagaId))}").ToList();
        yield return new InvariantResult("no rejected order with a net charge", rejectedCharged.Count == 0,
            $"{orders.Count(o => o.Status == "Rejected")} rejected, {rejectedCharged.Count} with a net charge", Cap(rejectedCharged));
    }

    /// <summary>
    /// Every refund of the run belongs to a rejected order: each refunded payment and each refund
    /// row, tombstones (a refund of nothing, amount 0) included. Fails when a saga that completed
    /// was compensated all the same (an approved order refunded, or a refund tombstone that would
    /// have declined its charge), or when a refund belongs to an order still Pending or to a saga
    /// that is no order's of the run.
    /// </summary>
    private static InvariantResult EveryRefundRejected(List<StoredOrder> orders, Dictionary<string, (string SagaId, decimal Amount, string Status)> payments,
        Dictionary<string, decimal> refunds)
    {
        var bySaga = orders.ToDictionary(o => o.SagaId);
        var refunded = payments.Values.Where(p => p.Status == "refunded").Select(p => p.SagaId).Concat(refunds.Keys).Distinct().ToList();
        string PaymentOf(string sagaId) => payments.TryGetValue(sagaId, out var p) ? $"payment {p.Status} {Money(p.Amount)}" : "no payment";
        var offenders = refunded.Where(sagaId => !bySaga.TryGetValue(sagaId, out var order) || order.Status != "Rejected")
            .Select(sagaId => bySaga.TryGetValue(sagaId, out var order)
                ? $"order {order.OrderId} {order.Status}: refunded {Money(refunds.GetValueOrDefault(sagaId))}, {PaymentOf(sagaId)}"
                : $"saga {sagaId} refunded ({PaymentOf(sagaId)}), but it is no order's of the run").ToList();
        var rejected = orders.Count(o => o.Status == "Rejected");
        return new InvariantResult("every refund belongs to a rejected order", offenders.Count == 0,
            $"{refunds.Count(r => r.Value > 0)} refunds of a charge ({Money(refunds.Values.Sum())}) and {refunds.Count(r => r.Value == 0)} of nothing, " +
            $"{payments.Values.Count(p => p.Status == "refunded")} payments refunded; {rejected} orders rejected, {offenders.Count} refunds of an order not rejected",
            Cap(offenders));
    }

    /// <summary>
    /// Every approved order has exactly one scheduled delivery: under its own saga, to the country
    /// of its address, and the very booking the order shows (delivery id and day). Fails when a saga
    /// completed without a booking or its booking was cancelled afterwards (a compensation of a
    /// completed saga), when one order holds two scheduled deliveries (a second saga for it), or
    /// when the order shows a booking the delivery service does not hold.
    /// </summary>
    private static InvariantResult EveryApprovedOrderDelivered(List<StoredOrder> orders, List<StoredDelivery> deliveries)
    {
        var scheduled = deliveries.Where(d => d.Status == "scheduled").ToLookup(d => d.OrderId);
        var approved = orders.Where(o => o.Status == "Approved").ToList();
        var offenders = new List<string>();
        foreach (var order in approved)
        {
            var held = scheduled[order.OrderId].ToList();
            if (held.Count != 1)
            {
                var others = deliveries.Where(d => d.OrderId == order.OrderId).Select(d => d.Status).ToList();
                offenders.Add($"order {order.OrderId} approved with {held.Count} scheduled deliveries" + (others.Count > held.Count ? $" (its deliveries: {string.Join(", ", others)})" : ""));
                continue;
            }
            var delivery = held[0];
            if (delivery.SagaId != order.SagaId) offenders.Add($"order {order.OrderId}: its delivery {delivery.DeliveryId} belongs to saga {delivery.SagaId}, not {order.SagaId}");
            if (delivery.Country != order.Country) offenders.Add($"order {order.OrderId}: delivery to {delivery.Country}, the order's address is in {order.Country}");
            if (order.Delivery is not { } shown) offenders.Add($"order {order.OrderId} approved without its delivery (the service booked {delivery.DeliveryId} on {delivery.Day:yyyy-MM-dd})");
            else if (shown.DeliveryId != delivery.DeliveryId || shown.Date != delivery.Day)
                offenders.Add($"order {order.OrderId} shows {shown.DeliveryId} on {shown.Date:yyyy-MM-dd}, the service booked {delivery.DeliveryId} on {delivery.Day:yyyy-MM-dd}");
        }
        var days = approved.Select(o => o.Delivery?.Date).OfType<DateOnly>().ToList();
        var spread = days.Count == 0 ? "" : $", on {Plural(days.Distinct().Count(), "day")} from {days.Min():yyyy-MM-dd} to {days.Max():yyyy-MM-dd}";
        return new InvariantResult("every approved order has exactly one scheduled delivery", offenders.Count == 0,
            $"{approved.Count} approved, {deliveries.Count(d => d.Status == "scheduled")} deliveries of the run scheduled{spread}; {offenders.Count} problems", Cap(offenders));
    }

    /// <summary>
    /// No rejected order keeps a scheduled delivery, and no scheduled delivery of the run lacks an
    /// approved order. Fails when a saga compensated after its delivery was booked (the commit timed
    /// out, say) but the CancelDelivery was lost or not applied, when a ScheduleDelivery re-sent
    /// before the compensation arrived after its cancel and still booked a place (the tombstone is
    /// there to refuse it), or when a delivery was booked for a saga that is no order's.
    /// </summary>
    private static InvariantResult NoRejectedOrderDelivered(List<StoredOrder> orders, List<StoredDelivery> deliveries)
    {
        var byOrder = orders.ToDictionary(o => o.OrderId);
        var offenders = deliveries.Where(d => d.Status == "scheduled" && (!byOrder.TryGetValue(d.OrderId, out var order) || order.Status != "Approved"))
            .Select(d => byOrder.TryGetValue(d.OrderId, out var order)
                ? $"order {d.OrderId} {order.Status} keeps delivery {d.DeliveryId} on {d.Day:yyyy-MM-dd} (saga {d.SagaId})"
                : $"delivery {d.DeliveryId} of saga {d.SagaId} scheduled for {d.OrderId}, no order of the run").ToList();
        var rejected = orders.Where(o => o.Status == "Rejected").Select(o => o.OrderId).ToHashSet();
        var ofRejected = deliveries.Where(d => rejected.Contains(d.OrderId)).ToList();
        return new InvariantResult("no rejected order keeps a scheduled delivery", offenders.Count == 0,
            $"{rejected.Count} rejected; their deliveries: {ofRejected.Count(d => d.Status == "refused")} refused, " +
            $"{ofRejected.Count(d => d.Status == "cancelled" && d.DeliveryId is not null)} cancelled after booking, " +
            $"{ofRejected.Count(d => d.Status == "cancelled" && d.DeliveryId is null)} cancelled before any schedule (tombstones), " +
            $"{ofRejected.Count(d => d.Status == "scheduled")} still scheduled", Cap(offenders));
    }

    /// <summary>
    /// Every delivery slot tells the truth: no day booked beyond its capacity, and each day's booked
    /// count equals the scheduled deliveries to that country on that day. Checked over the whole
    /// tables, not the run's rows alone: a slot is shared by every order to its country that day,
    /// whatever run or customer placed it. Other traffic cannot make it fail either: a booking and
    /// its delivery row (and a cancel and its freed place) change in one transaction, and one
    /// statement reads both tables. Fails when a cancel frees a place twice or not at all, a booking
    /// takes a place without recording its delivery (or the reverse), or a scheduled delivery has a
    /// day with no slot row; overbooking is also refused by the table's CHECK, so that part fails
    /// only if the schema loses it (or a capacity is lowered under its bookings).
    /// </summary>
    private static async Task<InvariantResult> SlotsMatchDeliveriesAsync(SystemUnderTest system, List<StoredDelivery> runDeliveries, CancellationToken cancellationToken)
    {
        var slots = await ReadAsync(system.Databases["delivery"], """
            SELECT coalesce(s.country, d.country), coalesce(s.day, d.day), s.capacity, s.booked, coalesce(d.scheduled, 0)
            FROM delivery_slots s
            FULL JOIN (SELECT country, day, count(*) AS scheduled FROM deliveries WHERE status = 'scheduled' GROUP BY country, day) d
                ON d.country = s.country AND d.day = s.day
            ORDER BY 1, 2
            """,
            r => (Country: r.GetString(0), Day: r.GetFieldValue<DateOnly>(1), Capacity: r.IsDBNull(2) ? (int?)null : r.GetInt32(2),
                Booked: r.IsDBNull(3) ? (int?)null : r.GetInt32(3), Scheduled: r.GetInt64(4)), cancellationToken);
        var offenders = new List<string>();
        foreach (var slot in slots)
        {
            var day = $"{slot.Country} {slot.Day:yyyy-MM-dd}";
            if (slot.Booked is not { } booked) offenders.Add($"{day}: {slot.Scheduled} scheduled deliveries on a day without a slot");
            else
            {
                if (booked > slot.Capacity) offenders.Add($"{day}: booked {booked} > capacity {slot.Capacity}");
                if (booked != slot.Scheduled) offenders.Add($"{day}: booked {booked}, {slot.Scheduled} deliveries scheduled");
            }
        }
        var run = runDeliveries.Where(d => d.Status == "scheduled").ToList();
        var full = slots.Count(s => s.Booked is { } b && b >= s.Capacity);
        return new InvariantResult("every delivery slot's bookings are its scheduled deliveries", offenders.Count == 0,
            $"{slots.Count} slots in {slots.Select(s => s.Country).Distinct().Count()} countries ({full} full), {slots.Sum(s => (long)(s.Booked ?? 0))} booked, " +
            $"{slots.Sum(s => s.Scheduled)} deliveries scheduled ({run.Count} of the run, on {Plural(run.Select(d => (d.Country, d.Day)).Distinct().Count(), "slot")}); {offenders.Count} slots wrong",
            Cap(offenders));
    }

    private static async Task<InvariantResult> OutboxesDrainedAsync(SystemUnderTest system, CancellationToken cancellationToken)
    {
        var offenders = new List<string>();
        foreach (var (database, connectionString) in system.Databases)
        {
            var counts = await ReadAsync(connectionString, "SELECT (SELECT count(*) FROM messaging.outbox), (SELECT count(*) FROM messaging.outbox_parked)",
                r => (Waiting: r.GetInt64(0), Parked: r.GetInt64(1)), cancellationToken);
            if (counts[0].Waiting > 0) offenders.Add($"{database}: {counts[0].Waiting} rows in messaging.outbox");
            if (counts[0].Parked > 0) offenders.Add($"{database}: {counts[0].Parked} rows in messaging.outbox_parked");
        }
        return new InvariantResult("every outbox drained", offenders.Count == 0,
            offenders.Count == 0 ? $"messaging.outbox and messaging.outbox_parked empty in {system.Databases.Count} databases" : string.Join("; ", offenders), offenders);
    }

    /// <summary>Reads every dead letter written since the baseline and matches it against what was injected on purpose.</summary>
    /// <summary>
    /// The dead letters of the run. Each injected message must be in its topic's dead-letter topic
    /// and nothing else may be there. A dead letter can be published twice: the relay publishes at
    /// least once (a fault between the broker's acknowledgement and the row's delete publishes it
    /// again), and a dead-letter topic has no inbox to absorb the copy; copies of one dead letter
    /// are counted and shown, not failed. The services' <c>messaging.dead_letters</c> tables record
    /// each exactly once (unique per consumer and original position): there the count must match.
    /// An injected message in a range a loss fault made its consumer skip (<paramref name="maybeLost"/>)
    /// may be missing, as every other message there is.
    /// </summary>
    private static InvariantResult DeadLetters(string kafka, RunBaseline baseline, IReadOnlyDictionary<string, IReadOnlyCollection<string>> poisoned,
        IReadOnlySet<string> maybeLost, long deadLetterRows)
    {
        var found = new Dictionary<string, List<string?>>();
        using var consumer = NewReader(kafka);
        foreach (var partition in KafkaTopics.Partitions(kafka, DeadLetterTopics))
        {
            var from = baseline.DeadLetterOffsets.GetValueOrDefault(Key(partition));
            var to = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(20)).High.Value;
            if (to <= from) continue;
            consumer.Assign(new TopicPartitionOffset(partition, from));
            var list = found.TryGetValue(partition.Topic, out var existing) ? existing : found[partition.Topic] = [];
            while (true)
            {
                var result = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"Could not read {partition} up to offset {to}.");
                list.Add(result.Message.Headers.TryGetLastBytes(ChaosAgent.PoisonHeader, out var marker) ? Encoding.UTF8.GetString(marker) : null);
                if (result.Offset.Value >= to - 1) break;
            }
            consumer.Unassign();
        }

        var offenders = new List<string>();
        var lines = new List<string>();
        var copies = 0;
        foreach (var topic in Topics.All)
        {
            var letters = found.GetValueOrDefault(topic + ".dlq") ?? [];
            var injected = poisoned.TryGetValue(topic, out var markers) ? markers.ToHashSet() : [];
            var unexpected = letters.Where(m => m is null || !injected.Contains(m)).ToList();
            var seen = letters.Where(m => m is not null).ToHashSet();
            var missing = injected.Where(m => !seen.Contains(m) && !maybeLost.Contains(m)).ToList();
            var twice = letters.Count - letters.Distinct().Count(); // copies of one dead letter (same marker)
            if (letters.Count > 0 || injected.Count > 0) lines.Add($"{topic}.dlq: {letters.Count} (injected {injected.Count})");
            offenders.AddRange(unexpected.Select(m => $"{topic}.dlq: unexpected dead letter{(m is null ? "" : " " + m)}"));
            offenders.AddRange(missing.Select(m => $"{topic}.dlq: injected {m} is missing"));
            copies += twice;
        }
        var total = poisoned.Values.Sum(m => m.Count);
        var recorded = deadLetterRows - baseline.DeadLetterRows;
        if (recorded > total || recorded < total - maybeLost.Count)
            offenders.Add($"messaging.dead_letters: {recorded} rows recorded in the run, {total} injected" + (maybeLost.Count > 0 ? $" ({maybeLost.Count} of them possibly lost)" : ""));
        var detail = lines.Count == 0 ? "every dead-letter topic empty (nothing injected)" : $"{total} injected; " + string.Join(", ", lines);
        detail += $"; {recorded} rows in messaging.dead_letters";
        if (maybeLost.Count > 0) detail += $"; {maybeLost.Count} injected messages lay in ranges a loss fault skipped ({total - recorded} of them never dead-lettered)";
        if (copies > 0) detail += $"; {copies} dead letters published a second time (at-least-once relay)";
        return new InvariantResult("dead letters exactly the injected poison", offenders.Count == 0, detail, Cap(offenders));
    }

    private static async Task<long> DeadLetterRowsAsync(SystemUnderTest system, CancellationToken cancellationToken)
    {
        var rows = 0L;
        foreach (var database in system.Databases.Values)
            rows += (await ReadAsync(database, "SELECT count(*) FROM messaging.dead_letters", r => r.GetInt64(0), cancellationToken))[0];
        return rows;
    }

    /// <summary>
    /// Every order ended as its kind intends: approved, or rejected by the step meant to refuse it
    /// (stock, payment, delivery), with the delivery's own reason for the delivery kinds. A step
    /// that timed out for good is compensated: allowed, but worth a look, so this is an
    /// expectation. A random refusal by the courier (Delivery:FailureRate above 0) of an order that
    /// reached the booking is counted, not failed.
    /// </summary>
    private static InvariantResult OutcomesAsIntended(List<StoredOrder> orders, IReadOnlyDictionary<string, RejectionCause> causes, IReadOnlyCollection<OrderRecord> sent)
    {
        var byId = orders.ToDictionary(o => o.OrderId);
        var wrong = new List<string>();
        var random = 0;
        foreach (var order in sent)
        {
            if (!byId.TryGetValue(order.OrderId, out var stored) || stored.Status == "Pending") continue;
            var ending = Outcomes.EndingOf(stored.Status, causes.GetValueOrDefault(stored.SagaId));
            if (Outcomes.RefusedAtRandom(order.Kind, ending, stored.Reason)) random++;
            else if (!Outcomes.AsIntended(order.Kind, ending, stored.Reason))
                wrong.Add($"order {order.OrderId} ({order.Kind}) ended {stored.Status}" + (stored.Status == "Rejected" ? $" ({Outcomes.Label(ending)}): {stored.Reason}" : ""));
        }
        return new InvariantResult("outcomes as intended by the mix", wrong.Count == 0,
            $"{wrong.Count} orders ended otherwise than their kind intends (a step that timed out for good is compensated: allowed, but worth a look)" +
            (random > 0 ? $"; {random} refused at random by the courier (Delivery:FailureRate)" : ""), Cap(wrong), IsExpectation: true);
    }

    /// <summary>
    /// How the run's rejected sagas were rejected: the first step that failed, timed out for good
    /// or was cancelled, from the orchestrator's timeline.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, RejectionCause>> RejectionCausesAsync(SystemUnderTest system, IEnumerable<string> sagaIds, CancellationToken cancellationToken)
    {
        var ids = sagaIds.ToArray();
        if (ids.Length == 0) return new Dictionary<string, RejectionCause>();
        var rows = await ReadAsync(system.Databases["orchestrator"], """
            SELECT DISTINCT ON (saga_id) saga_id, step, outcome, reason FROM saga_timeline
            WHERE saga_id = ANY($1) AND outcome IN ('failed', 'timed out', 'cancelled')
            ORDER BY saga_id, id
            """,
            r => (SagaId: r.GetString(0), Cause: new RejectionCause(r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3))), cancellationToken, (object)ids);
        return rows.ToDictionary(r => r.SagaId, r => r.Cause);
    }

    /// <summary>How every order of the run ended, by kind: the report's outcome table.</summary>
    public static async Task<IReadOnlyList<OutcomeRow>> OutcomeTableAsync(SystemUnderTest system, string runId, IReadOnlyCollection<OrderRecord> sent, CancellationToken cancellationToken)
    {
        var orders = (await ReadOrdersAsync(system, runId + "-%", cancellationToken)).ToDictionary(o => o.OrderId);
        var causes = await RejectionCausesAsync(system, orders.Values.Where(o => o.Status == "Rejected").Select(o => o.SagaId), cancellationToken);
        return [.. sent.GroupBy(o => o.Kind).OrderBy(g => g.Key).Select(kind =>
        {
            var endings = kind.Select(o => orders.TryGetValue(o.OrderId, out var stored) && stored.Status != "Pending"
                ? (Ending: Outcomes.EndingOf(stored.Status, causes.GetValueOrDefault(stored.SagaId)), stored.Reason)
                : (Ending: Ending.NotFinal, Reason: null)).ToList();
            long Count(Ending ending) => endings.Count(e => e.Ending == ending);
            return new OutcomeRow(Outcomes.Label(kind.Key), endings.Count, Count(Ending.Approved), Count(Ending.StockRefused), Count(Ending.PaymentDeclined),
                Count(Ending.DeliveryRefused), Count(Ending.TimedOut), Count(Ending.OtherRejection), Count(Ending.NotFinal),
                endings.Count(e => Outcomes.AsIntended(kind.Key, e.Ending, e.Reason)), endings.Count(e => Outcomes.RefusedAtRandom(kind.Key, e.Ending, e.Reason)));
        })];
    }

    private static async Task<Dictionary<string, (int Available, int Reserved, int Sold)>> StockAsync(string inventory, CancellationToken cancellationToken) =>
        (await ReadAsync(inventory, "SELECT sku, available, reserved, sold FROM products",
            r => (Sku: r.GetString(0), Stock: (r.GetInt32(1), r.GetInt32(2), r.GetInt32(3))), cancellationToken)).ToDictionary(p => p.Sku, p => p.Stock);

    private static async Task<List<T>> ReadAsync<T>(string connectionString, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters) command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken)) rows.Add(map(reader));
        return rows;
    }

    private static IConsumer<byte[], byte[]> NewReader(string kafka) => new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
    {
        BootstrapServers = kafka,
        GroupId = "sagaaspire-load-invariants", // never joined: partitions are assigned
        EnableAutoCommit = false,
        FetchWaitMaxMs = 5,
    }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();

    private static string Key(TopicPartition partition) => $"{partition.Topic}/{partition.Partition.Value.ToString(CultureInfo.InvariantCulture)}";

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static string Money(decimal amount) => amount.ToString("0.00", CultureInfo.InvariantCulture);

    private static List<string> Cap(List<string> offenders) =>
        offenders.Count <= MaxOffenders ? offenders : [.. offenders.Take(MaxOffenders), $"... and {offenders.Count - MaxOffenders} more"];
}
