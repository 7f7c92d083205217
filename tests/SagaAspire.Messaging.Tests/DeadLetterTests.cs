using System.Net;
using System.Net.Http.Json;
using System.Text;
using Confluent.Kafka;

namespace SagaAspire.Messaging.Tests;

[Collection(MessagingCollection.Name)]
public sealed class dead_letters(MessagingInfrastructure infrastructure)
{
    [Fact]
    public async Task poison_goes_to_the_dead_letter_topic_with_its_reason_and_the_partition_moves_on()
    {
        var scope = await infrastructure.NewScopeAsync("poison");
        await using var service = await TestService.StartAsync(scope);
        await service.ScalarAsync("INSERT INTO broken_accounts VALUES ('acct-p') RETURNING 1");
        var brokenAccount = Guid.NewGuid();

        using (var producer = outbox_and_inbox.RawProducer(scope))
        {
            // All with one key, so all in one partition, in this order.
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), "this is not json", key: "k"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), "{}", key: "k", type: "test.withdrawal.v9"));
            var noId = outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"a","amount":1,"sequence":1}""", key: "k");
            noId.Headers.Remove(MessageHeaders.MessageId);
            await producer.ProduceAsync(scope.Topic, noId);
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"a","amount":-5,"sequence":1}""", key: "k"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"a","sequence":1}""", key: "k"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(brokenAccount, """{"account":"acct-p","amount":3,"sequence":1}""", key: "k"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"acct-ok","amount":4,"sequence":7}""", key: "k"));
        }

        var ledger = await service.WaitForLedgerAsync(l => l.Count > 0);
        ledger.Single().Sequence.ShouldBe(7, "the message after the poison is processed");

        var letters = await ConsumeAsync(scope.DeadLetterTopic, 6);
        letters.Select(l => l.Headers.GetString(MessageHeaders.DeadLetter.Reason)).ShouldBe(
            ["malformed-body", "unknown-message-type", "missing-message-id", "invalid-message", "malformed-body", "handler-failed"]);
        foreach (var letter in letters)
        {
            letter.Headers.GetString(MessageHeaders.DeadLetter.OriginalTopic).ShouldBe(scope.Topic);
            letter.Headers.GetString(MessageHeaders.DeadLetter.ConsumerGroup).ShouldBe("ledger");
            letter.Headers.GetString(MessageHeaders.DeadLetter.OriginalOffset).ShouldNotBeNull();
            letter.Key.ShouldBe("k");
        }
        letters[3].Headers.GetString(MessageHeaders.DeadLetter.Error)!.ShouldContain("amount must be positive");
        letters[5].Headers.GetString(MessageHeaders.DeadLetter.ExceptionType).ShouldBe(typeof(InvalidOperationException).FullName);
        letters[5].Headers.GetString(MessageHeaders.MessageId).ShouldBe(brokenAccount.ToString(), "the original headers travel along");
        Encoding.UTF8.GetString(letters[0].Value).ShouldBe("this is not json", "the body is kept as it arrived");

        var listed = await service.Http.GetFromJsonAsync<List<DeadLetter>>("/dead-letters");
        listed!.Count.ShouldBe(6);
        listed.Select(l => l.Reason).ShouldContain("unknown-message-type");
    }

    [Fact]
    public async Task a_deferred_write_that_fails_takes_its_reply_and_inbox_row_with_it()
    {
        var scope = await infrastructure.NewScopeAsync("write-fails");
        await using var service = await TestService.StartAsync(scope);
        var refused = Guid.NewGuid();

        using (var producer = outbox_and_inbox.RawProducer(scope))
        {
            // The ledger's check refuses a million: the handler's deferred insert fails, after it returned.
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(refused, $$"""{"account":"acct-w","amount":1000000,"sequence":1,"receiptTo":"{{scope.ReceiptTopic}}"}""", key: "k"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), $$"""{"account":"acct-w","amount":2,"sequence":2,"receiptTo":"{{scope.ReceiptTopic}}"}""", key: "k"));
        }

        var ledger = await service.WaitForLedgerAsync(l => l.Count > 0);
        ledger.Single().Sequence.ShouldBe(2, "the message after the failed one is processed");
        var letter = (await ConsumeAsync(scope.DeadLetterTopic, 1)).Single();
        letter.Headers.GetString(MessageHeaders.MessageId).ShouldBe(refused.ToString());
        letter.Headers.GetString(MessageHeaders.DeadLetter.Reason).ShouldBe("handler-failed");
        letter.Headers.GetString(MessageHeaders.DeadLetter.Error)!.ShouldContain("ledger_amount_check");
        var receipts = await redelivered_messages.ReadAsync(scope, scope.ReceiptTopic, 1);
        receipts.Count.ShouldBe(1);
        Encoding.UTF8.GetString(receipts[0].Value).ShouldContain("\"sequence\":2", customMessage: "no receipt for the deposit whose write failed");
        (await service.ScalarAsync($"SELECT count(*) FROM messaging.inbox WHERE message_id = '{refused}'")).ShouldBe(0, "its inbox row rolled back with it");
    }

    [Fact]
    public async Task a_replayed_dead_letter_is_processed_once_the_fault_is_fixed()
    {
        var scope = await infrastructure.NewScopeAsync("replay");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Operations:ApiKey"] = "s3cret" });
        await service.ScalarAsync("INSERT INTO broken_accounts VALUES ('acct-x') RETURNING 1");
        await service.SendAsync(new Deposit("acct-x", 9, 1));
        var letter = await WaitForDeadLetterAsync(service);

        await service.ScalarAsync("DELETE FROM broken_accounts RETURNING 1"); // the fault is fixed
        (await service.Http.PostAsync($"/dead-letters/{letter.Id}/replay", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/dead-letters/{letter.Id}/replay") { Headers = { { "X-Api-Key", "s3cret" } } };
        (await service.Http.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var ledger = await service.WaitForLedgerAsync(l => l.Count == 1);
        ledger.Single().Account.ShouldBe("acct-x");

        using var again = new HttpRequestMessage(HttpMethod.Post, $"/dead-letters/{letter.Id}/replay") { Headers = { { "X-Api-Key", "s3cret" } } };
        var conflict = await service.Http.SendAsync(again);
        conflict.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        conflict.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        using var missing = new HttpRequestMessage(HttpMethod.Post, "/dead-letters/999999/replay") { Headers = { { "X-Api-Key", "s3cret" } } };
        (await service.Http.SendAsync(missing)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await service.Http.GetAsync("/dead-letters?limit=0")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    private static async Task<DeadLetter> WaitForDeadLetterAsync(TestService service)
    {
        for (var i = 0; i < 300; i++)
        {
            var letters = await service.Http.GetFromJsonAsync<List<DeadLetter>>("/dead-letters");
            if (letters is { Count: > 0 }) return letters[0];
            await Task.Delay(100);
        }
        throw new TimeoutException("No dead letter appeared");
    }

    private async Task<List<Message<string, byte[]>>> ConsumeAsync(string topic, int count)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = infrastructure.Kafka.BootstrapServers, GroupId = $"inspect-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest, SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(topic);
        var received = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(45);
        while (received.Count < count && DateTime.UtcNow < deadline)
        {
            var result = await Task.Run(() => consumer.Consume(TimeSpan.FromMilliseconds(200)));
            if (result is not null) received.Add(result);
        }
        consumer.Close();
        received.Count.ShouldBe(count, $"dead letters on {topic}");
        return [.. received.OrderBy(r => r.Offset.Value).Select(r => r.Message)];
    }
}
