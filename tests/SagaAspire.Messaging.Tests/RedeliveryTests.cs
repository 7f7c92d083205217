using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;

namespace SagaAspire.Messaging.Tests;

/// <summary>
/// A participant's reply lost on its way makes the orchestrator send the command again, with the
/// same message id: the inbox knows it, and answers with the replies it recorded.
/// </summary>
[Collection(MessagingCollection.Name)]
public sealed class redelivered_messages(MessagingInfrastructure infrastructure)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_redelivered_message_gets_the_same_replies_again_while_its_handler_runs_once(bool readsFirst)
    {
        var scope = await infrastructure.NewScopeAsync(readsFirst ? "resend-rf" : "resend");
        await using var service = await TestService.StartAsync(scope, readsFirst: readsFirst);
        var deposit = outbox_and_inbox.RawDeposit(Guid.NewGuid(), $$"""{"account":"acct-a","amount":5,"sequence":1,"receiptTo":"{{scope.ReceiptTopic}}"}""", key: "acct-a");
        using var producer = outbox_and_inbox.RawProducer(scope);
        long resent = 0;
        using var metrics = new MeterListener();
        metrics.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingTelemetry.Name && instrument.Name == "sagaaspire.messaging.replies.resent") l.EnableMeasurementEvents(instrument);
        };
        metrics.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "messaging.destination.name" && Equals(tag.Value, scope.Topic)) Interlocked.Add(ref resent, value);
        });
        metrics.Start();

        await producer.ProduceAsync(scope.Topic, deposit);
        var first = (await ReadAsync(scope, scope.ReceiptTopic, 1)).Single();
        await producer.ProduceAsync(scope.Topic, deposit); // the reply counts as lost: the command comes again

        var receipts = await ReadAsync(scope, scope.ReceiptTopic, 2);
        receipts.Count.ShouldBe(2, "the redelivery sends the reply again");
        var again = receipts[1];
        again.Headers.GetString(MessageHeaders.MessageId).ShouldBe(first.Headers.GetString(MessageHeaders.MessageId), "the receiver deduplicates on the original id");
        again.Headers.GetString(MessageHeaders.MessageType).ShouldBe("test.receipt.v1");
        again.Headers.GetString(MessageHeaders.CausationId).ShouldBe(deposit.Headers.GetString(MessageHeaders.MessageId));
        again.Key.ShouldBe("acct-a");
        Encoding.UTF8.GetString(again.Value).ShouldBe(Encoding.UTF8.GetString(first.Value));
        (await service.LedgerAsync()).Select(r => r.Sequence).ShouldBe([1], "the handler ran once");
        Interlocked.Read(ref resent).ShouldBe(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_redelivered_message_whose_handler_sent_nothing_sends_nothing(bool readsFirst)
    {
        var scope = await infrastructure.NewScopeAsync(readsFirst ? "resend-none-rf" : "resend-none");
        await using var service = await TestService.StartAsync(scope, readsFirst: readsFirst);
        var silent = outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"acct-n","amount":5,"sequence":2}""", key: "acct-n");
        using (var producer = outbox_and_inbox.RawProducer(scope))
        {
            // One key, so one partition, in this order: the duplicate comes after another
            // message's reply was recorded, and before the last message's.
            await producer.ProduceAsync(scope.Topic, RawDepositWithReceipt(scope, "acct-n", 1));
            await producer.ProduceAsync(scope.Topic, silent);
            await producer.ProduceAsync(scope.Topic, silent);
            await producer.ProduceAsync(scope.Topic, RawDepositWithReceipt(scope, "acct-n", 3));
        }

        // Rows reach the outbox in processing order and are published in that order: whatever the
        // duplicate wrongly sent would arrive before the last receipt.
        var receipts = await ReadAsync(scope, scope.ReceiptTopic, 2);
        receipts.Select(r => Encoding.UTF8.GetString(r.Value)).ShouldBe([
            """{"account":"acct-n","amount":1,"sequence":1}""",
            """{"account":"acct-n","amount":3,"sequence":3}""",
        ]);
        (await service.LedgerAsync()).Select(r => r.Sequence).ShouldBe([1, 2, 3]);
    }

    internal static Message<string, byte[]> RawDepositWithReceipt(TestScope scope, string account, int sequence) =>
        outbox_and_inbox.RawDeposit(Guid.NewGuid(), $$"""{"account":"{{account}}","amount":{{sequence}},"sequence":{{sequence}},"receiptTo":"{{scope.ReceiptTopic}}"}""", key: account);

    /// <summary>
    /// Reads <paramref name="topic"/> from the start until <paramref name="count"/> messages came,
    /// then a little longer, so that one too many is seen as well; in offset order.
    /// </summary>
    internal static async Task<List<Message<string, byte[]>>> ReadAsync(TestScope scope, string topic, int count, int seconds = 45)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = scope.BootstrapServers, GroupId = $"inspect-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest, SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(topic);
        var received = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        var settling = false;
        while (DateTime.UtcNow < deadline)
        {
            var result = await Task.Run(() => consumer.Consume(TimeSpan.FromMilliseconds(200)));
            if (result is not null) received.Add(result);
            if (received.Count >= count && !settling)
            {
                settling = true;
                deadline = DateTime.UtcNow.AddSeconds(1);
            }
        }
        consumer.Close();
        return [.. received.OrderBy(r => r.Partition.Value).ThenBy(r => r.Offset.Value).Select(r => r.Message)];
    }
}
