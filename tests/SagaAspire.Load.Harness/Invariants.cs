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

/// <summary>What the invariants compare against: the state before the run.</summary>
public sealed record RunBaseline(IReadOnlyDictionary<string, (int Available, int Reserved, int Sold)> Stock, IReadOnlyDictionary<string, long> DeadLetterOffsets,
    long DeadLetterRows);

/// <summary>
/// The invariants of a saga system at rest, checked by SQL on each service's database and by
/// reading the dead-letter topics. Only the orders of one run count (their ids start with the
/// run id), so a shared system's other orders do not get in the way; outboxes and stock are
/// checked whole.
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
        var orders = await ReadAsync(system.Databases["orders"], "SELECT order_id, saga_id, status, total, lines::text FROM orders WHERE order_id LIKE $1",
            r => new StoredOrder(r.GetString(0), r.GetString(1), r.GetString(2), r.GetDecimal(3), r.GetString(4)), cancellationToken, like);
        var sagas = await ReadAsync(system.Databases["orchestrator"], "SELECT saga_id, order_id, status FROM sagas WHERE order_id LIKE $1",
            r => (SagaId: r.GetString(0), OrderId: r.GetString(1), Status: r.GetString(2)), cancellationToken, like);
        var payments = (await ReadAsync(system.Databases["payment"], "SELECT saga_id, amount, status FROM payments WHERE order_id LIKE $1",
            r => (SagaId: r.GetString(0), Amount: r.GetDecimal(1), Status: r.GetString(2)), cancellationToken, like)).ToDictionary(p => p.SagaId);
        var sagaIds = orders.Select(o => o.SagaId).ToArray();
        var refunds = (await ReadAsync(system.Databases["payment"], "SELECT saga_id, amount FROM refunds WHERE saga_id = ANY($1)",
            r => (SagaId: r.GetString(0), Amount: r.GetDecimal(1)), cancellationToken, (object)sagaIds)).ToDictionary(r => r.SagaId, r => r.Amount);

        var results = new List<InvariantResult>
        {
            EverySagaFinal(orders, sagas),
        };
        if (sent is not null) results.Add(EveryAcceptedOrderStored(orders, sent));
        results.Add(await StockConservedAsync(system, like, baseline, orders, cancellationToken));
        results.AddRange(Payments(orders, payments, refunds));
        results.Add(await OutboxesDrainedAsync(system, cancellationToken));
        if (system.KafkaBootstrapServers is { } kafka)
            results.Add(DeadLetters(kafka, baseline, poisoned ?? new Dictionary<string, IReadOnlyCollection<string>>(), poisonMaybeLost ?? new HashSet<string>(),
                await DeadLetterRowsAsync(system, cancellationToken)));
        if (sent is not null) results.Add(OutcomesAsIntended(orders, sent));
        return results;
    }

    private sealed record StoredOrder(string OrderId, string SagaId, string Status, decimal Total, string Lines)
    {
        public IEnumerable<(string Sku, int Quantity)> Items()
        {
            using var document = JsonDocument.Parse(Lines);
            return document.RootElement.EnumerateArray()
                .Select(line => (line.GetProperty("sku").GetString()!, line.GetProperty("quantity").GetInt32())).ToList();
        }
    }

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

    private static InvariantResult OutcomesAsIntended(List<StoredOrder> orders, IReadOnlyCollection<OrderRecord> sent)
    {
        var byId = orders.ToDictionary(o => o.OrderId);
        var wrong = sent.Where(o => byId.TryGetValue(o.OrderId, out var stored) && stored.Status != "Pending"
                && stored.Status != (o.Kind == OrderKind.Success ? "Approved" : "Rejected"))
            .Select(o => $"order {o.OrderId} ({o.Kind}) ended {byId[o.OrderId].Status}").ToList();
        return new InvariantResult("outcomes as intended by the mix", wrong.Count == 0,
            $"{wrong.Count} orders ended otherwise than their kind intends (a step that timed out for good is compensated: allowed, but worth a look)", Cap(wrong), IsExpectation: true);
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

    private static string Money(decimal amount) => amount.ToString("0.00", CultureInfo.InvariantCulture);

    private static List<string> Cap(List<string> offenders) =>
        offenders.Count <= MaxOffenders ? offenders : [.. offenders.Take(MaxOffenders), $"... and {offenders.Count - MaxOffenders} more"];
}
