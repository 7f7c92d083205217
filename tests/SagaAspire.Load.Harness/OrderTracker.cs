using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Messaging;

namespace SagaAspire.Load;

/// <summary>One order of a run, from its intended send time to its final state.</summary>
public sealed class OrderRecord(long index, OrderKind kind, string orderId, decimal total, DateTime intendedAt, bool measured)
{
    private int _final;

    public long Index { get; } = index;
    public OrderKind Kind { get; } = kind;
    public string OrderId { get; } = orderId;
    public decimal Total { get; } = total;

    /// <summary>When the schedule meant to send it (UTC): latency counts from here, so a late send is not hidden.</summary>
    public DateTime IntendedAt { get; } = intendedAt;

    /// <summary>False for warm-up orders: they count for the invariants, not for the figures.</summary>
    public bool Measured { get; } = measured;

    public DateTime? AcceptedAt { get; internal set; }
    public string? SagaId { get; internal set; }

    /// <summary>Approved or Rejected, once known.</summary>
    public string? Status { get; private set; }

    /// <summary>When the order reached its final state: the order row's <c>updated_at</c> once read back, else when the harness learnt it.</summary>
    public DateTime? FinalAt { get; internal set; }

    /// <summary>Why the order was never accepted, if it was not.</summary>
    public string? SendError { get; internal set; }

    internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public bool IsFinal => Volatile.Read(ref _final) == 1;

    internal bool TryFinish(string status, DateTime at)
    {
        if (Interlocked.Exchange(ref _final, 1) == 1) return false;
        Status = status;
        FinalAt = at;
        Completion.TrySetResult();
        return true;
    }

    internal void Refine(string status, DateTime finalAt)
    {
        Status = status;
        FinalAt = finalAt;
    }
}

/// <summary>
/// Learns when orders become final without asking the order API about each one. Two sources:
/// <list type="bullet">
/// <item>the saga outcomes on <c>orchestrator.events</c> (OrderApproved, OrderRejected), read by a
/// Kafka consumer of the harness's own (partitions assigned directly, no consumer group): the
/// outcome arrives a few milliseconds after the orchestrator decides, at no cost to the databases;</item>
/// <item>a sweep of the order database once a second for orders that have waited more than two
/// seconds: the authority, and the fallback when an event is lost (a broker fault) or there is
/// no broker access.</item>
/// </list>
/// Either only signals "final" for the live figures and the closed loop; the exact final time of
/// each order is its row's <c>updated_at</c>, read back in bulk at the end (<see cref="RefineAsync"/>).
/// </summary>
public sealed class OrderTracker : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, OrderRecord> _bySaga = new();
    private readonly ConcurrentDictionary<string, string> _earlyOutcomes = new();
    private readonly ConcurrentQueue<OrderRecord> _waiting = new();
    private readonly List<OrderRecord> _all = [];
    private readonly Lock _allGate = new();
    private readonly string _ordersDatabase;
    private readonly string? _kafka;
    private readonly CancellationTokenSource _stop = new();
    private Task? _consumer;
    private Task? _sweeper;
    private long _accepted;
    private long _final;

    public OrderTracker(string ordersDatabase, string? kafkaBootstrapServers)
    {
        _ordersDatabase = ordersDatabase;
        _kafka = kafkaBootstrapServers;
    }

    public long Accepted => Interlocked.Read(ref _accepted);
    public long Final => Interlocked.Read(ref _final);

    /// <summary>Every order of the run so far.</summary>
    public IReadOnlyList<OrderRecord> Orders
    {
        get
        {
            lock (_allGate) return [.. _all];
        }
    }

    /// <summary>Starts both sources; returns once the outcome consumer sits at the end of its topic.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_kafka is not null)
        {
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _consumer = Task.Factory.StartNew(() => ConsumeOutcomes(ready), TaskCreationOptions.LongRunning);
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        _sweeper = SweepAsync(_stop.Token);
    }

    public void Add(OrderRecord order)
    {
        lock (_allGate) _all.Add(order);
    }

    /// <summary>The order API accepted the order (202, or 409 because an earlier attempt got through: saga id unknown then).</summary>
    public void Accept(OrderRecord order, string? sagaId)
    {
        order.AcceptedAt = DateTime.UtcNow;
        order.SagaId = sagaId;
        Interlocked.Increment(ref _accepted);
        if (sagaId is not null)
        {
            _bySaga[sagaId] = order;
            if (_earlyOutcomes.TryRemove(sagaId, out var status)) Finish(order, status);
        }
        _waiting.Enqueue(order);
    }

    private void Finish(OrderRecord order, string status)
    {
        if (order.TryFinish(status, DateTime.UtcNow)) Interlocked.Increment(ref _final);
        if (order.SagaId is not null) _bySaga.TryRemove(order.SagaId, out _);
    }

    private void ConsumeOutcomes(TaskCompletionSource ready)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _kafka,
            GroupId = "sagaaspire-load-outcomes", // required by the client; never joined (partitions are assigned)
            EnableAutoCommit = false,
            // fetch.wait.max.ms stays librdkafka's 500 ms: the broker answers a waiting fetch as
            // soon as an outcome arrives. A shorter wait only has it answer empty fetches (at 5 ms,
            // 200 a second, which the report counted as the broker's CPU per saga).
            SocketNagleDisable = true,
        };
        using var consumer = new ConsumerBuilder<string, byte[]>(config).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        try
        {
            consumer.Assign(KafkaTopics.Partitions(_kafka!, [Topics.OrchestratorEvents]).Select(p => new TopicPartitionOffset(p, Offset.End)));
            ready.TrySetResult();
            while (!_stop.IsCancellationRequested)
            {
                var result = consumer.Consume(100);
                if (result?.Message is not { Key: { } sagaId } message) continue;
                var type = message.Headers?.GetString(MessageHeaders.MessageType);
                var status = type switch
                {
                    not null when type.StartsWith("order.approved", StringComparison.Ordinal) => "Approved",
                    not null when type.StartsWith("order.rejected", StringComparison.Ordinal) => "Rejected",
                    _ => null,
                };
                if (status is null) continue;
                if (_bySaga.TryGetValue(sagaId, out var order)) Finish(order, status);
                else if (_earlyOutcomes.Count < 100_000) _earlyOutcomes[sagaId] = status; // its POST has not returned yet
            }
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
        {
            ready.TrySetException(ex);
        }
        finally
        {
            consumer.Close();
        }
    }

    /// <summary>Once a second: orders accepted more than two seconds ago and still not known final, looked up in the order database.</summary>
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var pending = new List<OrderRecord>();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var cutoff = DateTime.UtcNow.AddSeconds(-2);
                pending.RemoveAll(o => o.IsFinal);
                while (_waiting.TryPeek(out var next) && next.AcceptedAt < cutoff && _waiting.TryDequeue(out next))
                    if (!next.IsFinal) pending.Add(next);
                if (pending.Count == 0) continue;
                try
                {
                    await LookUpAsync(pending, cancellationToken);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    // The database is down (a chaos fault): the next tick tries again.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task LookUpAsync(List<OrderRecord> pending, CancellationToken cancellationToken)
    {
        var byId = pending.ToDictionary(o => o.OrderId);
        await using var connection = new NpgsqlConnection(_ordersDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand("SELECT order_id, saga_id, status FROM orders WHERE order_id = ANY($1) AND status <> 'Pending'", connection);
        query.Parameters.Add(new() { Value = byId.Keys.ToArray() });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var order = byId[reader.GetString(0)];
            order.SagaId ??= reader.GetString(1);
            Finish(order, reader.GetString(2));
        }
    }

    /// <summary>
    /// Reads every order of the run back from the order database: the final status and the exact
    /// time it was set (<c>updated_at</c>, the same machine's clock as the intended send times).
    /// </summary>
    public async Task RefineAsync(string runId, CancellationToken cancellationToken)
    {
        var byId = Orders.ToDictionary(o => o.OrderId);
        await using var connection = new NpgsqlConnection(_ordersDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(
            "SELECT order_id, saga_id, status, updated_at FROM orders WHERE order_id LIKE $1 AND status <> 'Pending'", connection);
        query.Parameters.Add(new() { Value = runId + "-%" });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!byId.TryGetValue(reader.GetString(0), out var order)) continue;
            order.SagaId ??= reader.GetString(1);
            if (!order.IsFinal) Finish(order, reader.GetString(2));
            order.Refine(reader.GetString(2), reader.GetDateTime(3));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_consumer is not null) await _consumer;
        if (_sweeper is not null) await _sweeper;
        _stop.Dispose();
    }
}

/// <summary>The body of each kind of order.</summary>
public static class OrderBodies
{
    /// <summary>The delivery service's refusal of an <see cref="OrderKind.Undeliverable"/> order, word for word.</summary>
    public const string UnservedRefusal = $"we do not deliver to {SystemUnderTest.UnservedCountry}";

    /// <summary>How the delivery service's refusal of a <see cref="OrderKind.NoSlot"/> order begins (the days follow).</summary>
    public const string NoSlotRefusal = $"no delivery slot free in {SystemUnderTest.FullCountry} from ";

    /// <summary>How a random refusal begins (Delivery:FailureRate above 0): any order that reaches the delivery step may get it.</summary>
    public const string RandomRefusal = "refused by the simulated courier";

    /// <summary>Prices vary a little so that sums catch a charge of the wrong order.</summary>
    public static decimal PriceOf(long index) => 10m + index % 97 + (index % 7) * 0.25m;

    /// <summary>The country an order of this kind is sent to.</summary>
    public static string CountryOf(OrderKind kind) => kind switch
    {
        OrderKind.Undeliverable => SystemUnderTest.UnservedCountry,
        OrderKind.NoSlot => SystemUnderTest.FullCountry,
        _ => SystemUnderTest.DeliveredCountry,
    };

    /// <param name="skus">How many of the stocked products the orders spread over (one makes a single hot row).</param>
    public static string For(OrderRecord order, int skus)
    {
        var stocked = SystemUnderTest.StockedSku((int)(order.Index % Math.Clamp(skus, 1, SystemUnderTest.StockedSkuCount)));
        var (customer, sku) = order.Kind switch
        {
            OrderKind.Declined => ($"declined-{order.Index}", stocked),
            OrderKind.OutOfStock => ($"c-{order.Index}", SystemUnderTest.EmptySku),
            _ => ($"c-{order.Index}", stocked),
        };
        var builder = new StringBuilder(320);
        builder.Append("{\"orderId\":\"").Append(order.OrderId)
            .Append("\",\"customerId\":\"").Append(customer)
            .Append("\",\"currency\":\"USD\",\"items\":[{\"sku\":\"").Append(sku)
            .Append("\",\"quantity\":1,\"unitPrice\":").Append(order.Total.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Append("}],\"deliveryAddress\":{\"street\":\"").Append(order.Index % 900 + 1).Append(" Load Street")
            .Append("\",\"city\":\"Loadtown\",\"postalCode\":\"L").Append(order.Index % 10_000)
            .Append("\",\"country\":\"").Append(CountryOf(order.Kind))
            .Append("\"}}");
        return builder.ToString();
    }
}
