using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace SagaAspire.Load;

/// <summary>Live counters of a run, for the progress display.</summary>
public sealed class LoadCounters
{
    private long _sent;
    private long _inFlightRequests;

    public long Sent => Interlocked.Read(ref _sent);
    public long InFlightRequests => Interlocked.Read(ref _inFlightRequests);
    public ConcurrentDictionary<string, long> Errors { get; } = new();
    public long ErrorCount => Errors.Values.Sum();

    internal void CountSent() => Interlocked.Increment(ref _sent);
    internal void RequestStarted() => Interlocked.Increment(ref _inFlightRequests);
    internal void RequestEnded() => Interlocked.Decrement(ref _inFlightRequests);
    internal void Error(string kind) => Errors.AddOrUpdate(kind, 1, (_, n) => n + 1);
}

/// <summary>
/// Sends the orders: open loop (a schedule of intended send times at a fixed rate, each order sent
/// on its own whatever the others are doing, and its latency counted from its intended time, so
/// that a stalled system shows up as latency instead of as fewer requests: no coordinated
/// omission) or closed loop (workers that each place an order and wait for its final state).
/// </summary>
public sealed class LoadDriver : IDisposable
{
    /// <summary>More requests than this outstanding and the schedule waits (their latency still counts from the intended time).</summary>
    private const int MaxOutstandingRequests = 20_000;

    private readonly HttpClient _http;
    private readonly IReadOnlyList<Uri> _orderUrls;
    private readonly LoadSettings _settings;
    private readonly OrderTracker _tracker;
    private long _next = -1;
    private long _measuredSent;
    private int _urlTurn;

    public LoadDriver(IReadOnlyList<Uri> orderUrls, LoadSettings settings, OrderTracker tracker)
    {
        _orderUrls = orderUrls;
        _settings = settings;
        _tracker = tracker;
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1024,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        { Timeout = TimeSpan.FromSeconds(30) };
    }

    public LoadCounters Counters { get; } = new();

    /// <summary>When the figures start (after the warm-up), in UTC.</summary>
    public DateTime MeasureFrom { get; private set; }

    /// <summary>When the last order was sent.</summary>
    public DateTime LoadEnded { get; private set; }

    /// <summary>Sends the whole load (warm-up, then measured); returns once every order is sent and answered.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var start = DateTime.UtcNow;
        MeasureFrom = start + _settings.Warmup;
        var endBy = _settings.Duration is { } duration ? MeasureFrom + duration : DateTime.MaxValue;
        var count = _settings.Count ?? (_settings.Duration is null ? 1000 : long.MaxValue);
        if (_settings.Rate is { } rate) await OpenLoopAsync(rate, start, endBy, count, cancellationToken);
        else await ClosedLoopAsync(endBy, count, cancellationToken);
        LoadEnded = DateTime.UtcNow;
    }

    private async Task OpenLoopAsync(double rate, DateTime startUtc, DateTime endBy, long count, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var period = TimeSpan.FromSeconds(1 / rate);
        var warmupCount = (long)Math.Round(_settings.Warmup.TotalSeconds * rate);
        var sends = new List<Task>();
        for (long index = 0; !cancellationToken.IsCancellationRequested; index++)
        {
            var offset = period * index;
            var intended = startUtc + offset;
            var measured = index >= warmupCount;
            if (measured && (index - warmupCount >= count || intended >= endBy)) break;
            var wait = offset - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, cancellationToken);
            while (Counters.InFlightRequests >= MaxOutstandingRequests) await Task.Delay(1, cancellationToken);
            var order = NewOrder(intended, measured);
            sends.Add(SendAsync(order, cancellationToken));
            if (sends.Count >= 4096) sends.RemoveAll(t => t.IsCompleted);
        }
        await Task.WhenAll(sends);
    }

    private async Task ClosedLoopAsync(DateTime endBy, long count, CancellationToken cancellationToken)
    {
        var finalWait = _settings.RecoveryTimeout;
        async Task Worker()
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var now = DateTime.UtcNow;
                var measured = now >= MeasureFrom;
                if (measured && now >= endBy) return;
                if (measured && Interlocked.Increment(ref _measuredSent) > count) return;
                var order = NewOrder(now, measured);
                if (!await SendAsync(order, cancellationToken)) continue;
                // A worker waits for its saga at most until the load's end: what is still running
                // then is left for the recovery wait and the invariants.
                var waitUntil = endBy == DateTime.MaxValue ? finalWait : Min(finalWait, endBy - DateTime.UtcNow);
                if (waitUntil <= TimeSpan.Zero) return;
                try
                {
                    await order.Completion.Task.WaitAsync(waitUntil, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // the worker goes on with the next order, or ends with the load
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, _settings.Workers).Select(_ => Task.Run(Worker, cancellationToken)));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private OrderRecord NewOrder(DateTime intended, bool measured)
    {
        var index = Interlocked.Increment(ref _next);
        var order = new OrderRecord(index, _settings.Mix.KindOf(index), $"{_settings.RunId}-{index}", OrderBodies.PriceOf(index), intended, measured);
        _tracker.Add(order);
        return order;
    }

    /// <summary>
    /// POSTs the order, retrying what may succeed later (service or database down, timeouts) with
    /// the same order id: a 409 then means an earlier attempt got through.
    /// </summary>
    private async Task<bool> SendAsync(OrderRecord order, CancellationToken cancellationToken)
    {
        Counters.CountSent();
        Counters.RequestStarted();
        try
        {
            var body = OrderBodies.For(order, _settings.Skus);
            var giveUpAt = DateTime.UtcNow + _settings.SendGiveUp;
            var delay = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                var url = _orderUrls[(int)((uint)Interlocked.Increment(ref _urlTurn) % _orderUrls.Count)];
                string error;
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await _http.PostAsync(new Uri(url, "/orders"), content, cancellationToken);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
                        using var answer = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
                        _tracker.Accept(order, answer.RootElement.GetProperty("sagaId").GetString());
                        return true;
                    }
                    if (response.StatusCode == HttpStatusCode.Conflict)
                    {
                        _tracker.Accept(order, sagaId: null);
                        return true;
                    }
                    error = $"http {(int)response.StatusCode}";
                    if ((int)response.StatusCode < 500 && response.StatusCode != HttpStatusCode.TooManyRequests)
                    {
                        Counters.Error(error);
                        order.SendError = error;
                        return false;
                    }
                }
                catch (HttpRequestException ex)
                {
                    error = $"connection ({ex.HttpRequestError})";
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    error = "request timeout";
                }
                Counters.Error(error + ", retried");
                if (DateTime.UtcNow + delay > giveUpAt)
                {
                    Counters.Error("not accepted (gave up)");
                    order.SendError = error;
                    return false;
                }
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
        finally
        {
            Counters.RequestEnded();
        }
    }

    public void Dispose() => _http.Dispose();
}
