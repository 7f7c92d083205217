using System.Collections.Concurrent;
using System.Diagnostics;

namespace SagaAspire.Messaging.Benchmarks;

/// <summary>
/// Where a hop's time goes, read from the messaging spans themselves: the publish span (produce
/// to broker acknowledgement) and the gap from acknowledgement to the consumer's process span.
/// </summary>
internal sealed class HopSpans
{
    private readonly ConcurrentDictionary<string, (DateTime Start, DateTime End)> _publish = new();
    private readonly ConcurrentDictionary<string, DateTime> _process = new();
    private readonly ConcurrentBag<double> _batchSizes = [];
    private readonly ConcurrentBag<double> _outboxWait = [];
    private readonly ConcurrentBag<double> _processing = [];

    public ActivityListener Listen()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == MessagingTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                if (a.GetTagItem("messaging.message.id") is not string id) return;
                if (a.Kind == ActivityKind.Producer)
                {
                    _publish.TryAdd(id, (a.StartTimeUtc, a.StartTimeUtc + a.Duration));
                    if (a.GetTagItem("sagaaspire.outbox.wait_ms") is double wait) _outboxWait.Add(wait);
                }
                else if (a.Kind == ActivityKind.Consumer)
                {
                    _process.TryAdd(id, a.StartTimeUtc);
                    _processing.Add(a.Duration.TotalMilliseconds);
                    _batchSizes.Add(a.GetTagItem("sagaaspire.inbox.batch_size") is int size ? size : 1);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>Forgets what was recorded so far (the warm-up).</summary>
    public void Clear()
    {
        _publish.Clear();
        _process.Clear();
        _outboxWait.Clear();
        _processing.Clear();
        _batchSizes.Clear();
    }

    public void Report()
    {
        var wait = _outboxWait.Order().ToArray();
        Console.WriteLine($"      row written to publish start (commit, hand-over to the relay): p50 {MessagingBenchmark.Percentile(wait, 0.5):F1} ms, p99 {MessagingBenchmark.Percentile(wait, 0.99):F1} ms");
        var ack = _publish.Values.Select(p => (p.End - p.Start).TotalMilliseconds).Order().ToArray();
        var deliver = _publish.Where(p => _process.ContainsKey(p.Key)).Select(p => (_process[p.Key] - p.Value.End).TotalMilliseconds).Order().ToArray();
        Console.WriteLine($"      publish span (produce to broker ack): p50 {MessagingBenchmark.Percentile(ack, 0.5):F1} ms, p99 {MessagingBenchmark.Percentile(ack, 0.99):F1} ms");
        var processing = _processing.Order().ToArray();
        Console.WriteLine($"      process span (inbox, handler, commit): p50 {MessagingBenchmark.Percentile(processing, 0.5):F1} ms, p99 {MessagingBenchmark.Percentile(processing, 0.99):F1} ms");
        var batches = _batchSizes.Order().ToArray();
        Console.WriteLine($"      messages per consumer transaction: mean {(batches.Length == 0 ? double.NaN : batches.Average()):F1}, p99 {MessagingBenchmark.Percentile(batches, 0.99):F0}");
        Console.WriteLine($"      broker ack to process span start (fetch and partition queue): p50 {MessagingBenchmark.Percentile(deliver, 0.5):F1} ms, p99 {MessagingBenchmark.Percentile(deliver, 0.99):F1} ms");
    }
}
