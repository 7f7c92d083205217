using System.Collections.Concurrent;
using System.Diagnostics;

namespace SagaAspire.Messaging.Tests;

[Collection(MessagingCollection.Name)]
public sealed class trace_propagation : IDisposable
{
    private static readonly ActivitySource Requests = new("SagaAspire.Messaging.Tests");
    private readonly MessagingInfrastructure _infrastructure;
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public trace_propagation(MessagingInfrastructure infrastructure)
    {
        _infrastructure = infrastructure;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is MessagingTelemetry.Name or "SagaAspire.Messaging.Tests" or "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public async Task the_handler_runs_in_the_trace_of_the_request_that_wrote_the_message()
    {
        var scope = await _infrastructure.NewScopeAsync("trace");
        await using var service = await TestService.StartAsync(scope);

        ActivityTraceId traceId;
        ActivitySpanId requestSpan;
        using (var request = Requests.StartActivity("POST /deposits", ActivityKind.Server)!)
        {
            traceId = request.TraceId;
            requestSpan = request.SpanId;
            await service.SendAsync(new Deposit("acct-t", 1, 1));
        }

        var ledger = await service.WaitForLedgerAsync(l => l.Count == 1);
        ledger.Single().TraceId.ShouldBe(traceId.ToHexString(), "the handler's work belongs to the request's trace");

        var spans = await WaitForSpansAsync(traceId, 2);
        var publish = spans.Single(a => a.Kind == ActivityKind.Producer);
        var process = spans.Single(a => a.Kind == ActivityKind.Consumer);
        publish.ParentSpanId.ShouldBe(requestSpan, "the relay's publish continues the context stored with the outbox row");
        process.ParentSpanId.ShouldBe(publish.SpanId, "the process span is the publish span's child, not merely a link");
        // The messaging conventions name a span "{messaging.operation.name} {destination}"; Kafka's
        // operation for producing is "send".
        publish.DisplayName.ShouldBe($"send {scope.Topic}");
        process.DisplayName.ShouldBe($"process {scope.Topic}");
        foreach (var span in new[] { publish, process })
        {
            span.GetTagItem("messaging.system").ShouldBe("kafka");
            span.GetTagItem("messaging.destination.name").ShouldBe(scope.Topic);
            span.GetTagItem("server.address").ShouldNotBeNull();
            span.GetTagItem("server.port").ShouldBeOfType<int>();
        }
        publish.GetTagItem("messaging.operation.name").ShouldBe("send");
        publish.GetTagItem("messaging.operation.type").ShouldBe("send");
        process.GetTagItem("messaging.operation.name").ShouldBe("process");
        process.GetTagItem("messaging.operation.type").ShouldBe("process");
        process.GetTagItem("messaging.kafka.message.key").ShouldBe(publish.GetTagItem("messaging.kafka.message.key"));
        process.GetTagItem("messaging.consumer.group.name").ShouldBe("ledger");
        process.GetTagItem("messaging.destination.partition.id").ShouldNotBeNull();
        process.GetTagItem("saga.id").ShouldBe("acct-t");
        publish.GetTagItem("messaging.message.id").ShouldBe(process.GetTagItem("messaging.message.id"));
    }

    [Fact]
    public async Task replies_sent_again_for_a_redelivery_continue_the_redelivery_s_trace()
    {
        var scope = await _infrastructure.NewScopeAsync("trace-resend");
        await using var service = await TestService.StartAsync(scope);
        var deposit = redelivered_messages.RawDepositWithReceipt(scope, "acct-rt", 1);
        var (firstTrace, secondTrace) = (ActivityTraceId.CreateRandom(), ActivityTraceId.CreateRandom());
        using var producer = outbox_and_inbox.RawProducer(scope);

        deposit.Headers.SetString(MessageHeaders.TraceParent, $"00-{firstTrace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        await producer.ProduceAsync(scope.Topic, deposit);
        await redelivered_messages.ReadAsync(scope, scope.ReceiptTopic, 1);
        deposit.Headers.SetString(MessageHeaders.TraceParent, $"00-{secondTrace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        await producer.ProduceAsync(scope.Topic, deposit);

        var receipts = await redelivered_messages.ReadAsync(scope, scope.ReceiptTopic, 2);
        receipts.Select(r => ActivityContext.Parse(r.Headers.GetString(MessageHeaders.TraceParent)!, null).TraceId).ShouldBe([firstTrace, secondTrace]);
        var process = (await WaitForSpansAsync(secondTrace, 2)).Single(a => a.Kind == ActivityKind.Consumer);
        process.GetTagItem("sagaaspire.inbox.duplicate").ShouldBe(true);
        process.GetTagItem("sagaaspire.inbox.replies_resent").ShouldBe(1);
    }

    [Fact]
    public async Task messages_handled_in_one_transaction_each_continue_their_own_trace()
    {
        var scope = await _infrastructure.NewScopeAsync("trace-together");
        await using var service = await TestService.StartAsync(scope);
        var senders = Enumerable.Range(1, 8).Select(_ => new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded)).ToList();
        var deposits = senders.Select((sender, i) =>
        {
            var deposit = group_commit.Deposit(Guid.NewGuid(), "acct-tt", i + 1);
            deposit.Headers.SetString(MessageHeaders.TraceParent, $"00-{sender.TraceId.ToHexString()}-{sender.SpanId.ToHexString()}-01");
            return deposit;
        });

        group_commit.ProduceAtOnce(scope, deposits);

        var ledger = await service.WaitForLedgerAsync(l => l.Count == senders.Count);
        ledger.Select(r => r.TraceId).ShouldBe(senders.Select(s => s.TraceId.ToHexString()), "each handler ran in its own message's trace");
        var processes = new List<Activity>();
        foreach (var sender in senders) processes.Add((await WaitForSpansAsync(sender.TraceId, 1)).Single(a => a.Kind == ActivityKind.Consumer));
        processes.Select(p => p.ParentSpanId).ShouldBe(senders.Select(s => s.SpanId), "every process span is the child of its own sender's span");
        processes.Select(p => p.GetTagItem("sagaaspire.inbox.batch_size") as int? ?? 1).Max().ShouldBeGreaterThan(1, "some of them shared a transaction");
        processes.ShouldAllBe(p => p.Status != ActivityStatusCode.Error);
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 2)]
    public async Task a_handler_that_reads_first_makes_one_round_trip_fewer(bool readsFirst, int roundTrips)
    {
        var scope = await _infrastructure.NewScopeAsync(readsFirst ? "round-trips-rf" : "round-trips");
        await using var service = await TestService.StartAsync(scope, readsFirst: readsFirst);

        ActivityTraceId traceId;
        using (var request = Requests.StartActivity("POST /deposits", ActivityKind.Server)!)
        {
            traceId = request.TraceId;
            await service.SendAsync(new Deposit("acct-rt", 1, 1));
        }
        await service.WaitForLedgerAsync(l => l.Count == 1);

        var process = (await WaitForSpansAsync(traceId, 2)).Single(a => a.Kind == ActivityKind.Consumer);
        // Each round trip to the database is a span (the children of the message's process span):
        // the inbox's record, the handler's check of the account, the ledger row with the outbox's;
        // reading first, the record goes with the check.
        _stopped.Count(a => a.Source.Name == "Npgsql" && a.ParentSpanId == process.SpanId).ShouldBe(roundTrips);
    }

    private async Task<List<Activity>> WaitForSpansAsync(ActivityTraceId traceId, int count)
    {
        for (var i = 0; i < 200; i++)
        {
            var spans = _stopped.Where(a => a.TraceId == traceId && a.Source.Name == MessagingTelemetry.Name).ToList();
            if (spans.Count >= count) return spans;
            await Task.Delay(50);
        }
        throw new TimeoutException("The messaging spans did not all end");
    }

    public void Dispose() => _listener.Dispose();
}
