using System.Text;
using Confluent.Kafka;

namespace SagaAspire.Messaging.Tests;

/// <summary>
/// A handler that reads first has the inbox hold the saga and record the message in the round trip
/// of its first read; the rest of the inbox's promises are the same as for any handler (the
/// redelivery and group commit tests run with both kinds; the trace tests count its round trips).
/// </summary>
[Collection(MessagingCollection.Name)]
public sealed class a_handler_that_reads_first(MessagingInfrastructure infrastructure)
{
    [Fact]
    public async Task that_decides_without_reading_is_recorded_after_it_and_a_redelivery_has_no_second_effect()
    {
        var scope = await infrastructure.NewScopeAsync("reads-first-none");
        await using var service = await TestService.StartAsync(scope, readsFirst: true);
        var deposit = outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"acct-q","amount":0.01,"sequence":1}""", key: "acct-q");
        using var producer = outbox_and_inbox.RawProducer(scope);

        await producer.ProduceAsync(scope.Topic, deposit);
        await service.WaitForLedgerAsync(l => l.Count >= 1);
        await producer.ProduceAsync(scope.Topic, deposit);
        await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), """{"account":"acct-q","amount":5,"sequence":2}""", key: "acct-q"));

        (await service.WaitForLedgerAsync(l => l.Count >= 2)).Select(r => r.Sequence).ShouldBe([1, 2], "the redelivered deposit was recorded before and changed nothing");
        (await service.ScalarAsync("SELECT count(*) FROM messaging.inbox")).ShouldBe(2);
    }

    [Fact]
    public async Task that_uses_the_connection_before_its_first_read_is_stopped_and_its_message_dead_lettered()
    {
        var scope = await infrastructure.NewScopeAsync("reads-first-rule");
        await using var service = await TestService.StartAsync(scope, readsFirst: true);

        await DeadLetteredWhileThePartitionMovesOnAsync(scope, service, ReadingFirstDepositHandler.ConnectionFirst, "MessageContext.ReadAsync");
    }

    [Fact]
    public async Task whose_write_changes_another_number_of_rows_than_it_must_keeps_nothing_and_its_message_is_dead_lettered()
    {
        var scope = await infrastructure.NewScopeAsync("reads-first-checked");
        await using var service = await TestService.StartAsync(scope, readsFirst: true);

        await DeadLetteredWhileThePartitionMovesOnAsync(scope, service, ReadingFirstDepositHandler.CheckedWriteMisses, "the ledger's correction changed 0 rows, not 1");
    }

    /// <summary>
    /// Sends a deposit of <paramref name="amount"/> that fails for good, then a good one for the
    /// same account, each asking for a receipt: the first is dead-lettered with
    /// <paramref name="error"/>, nothing of it is kept (ledger row, inbox row, receipt), and the
    /// second goes through.
    /// </summary>
    private static async Task DeadLetteredWhileThePartitionMovesOnAsync(TestScope scope, TestService service, decimal amount, string error)
    {
        var failing = Guid.NewGuid();
        var value = amount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var producer = outbox_and_inbox.RawProducer(scope))
        {
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(failing, $$"""{"account":"acct-f","amount":{{value}},"sequence":1,"receiptTo":"{{scope.ReceiptTopic}}"}""", key: "acct-f"));
            await producer.ProduceAsync(scope.Topic, outbox_and_inbox.RawDeposit(Guid.NewGuid(), $$"""{"account":"acct-f","amount":5,"sequence":2,"receiptTo":"{{scope.ReceiptTopic}}"}""", key: "acct-f"));
        }

        var letter = (await redelivered_messages.ReadAsync(scope, scope.DeadLetterTopic, 1)).Single();
        letter.Headers.GetString(MessageHeaders.MessageId).ShouldBe(failing.ToString());
        letter.Headers.GetString(MessageHeaders.DeadLetter.Reason).ShouldBe("handler-failed");
        letter.Headers.GetString(MessageHeaders.DeadLetter.Error)!.ShouldContain(error);
        (await service.WaitForLedgerAsync(l => l.Count >= 1)).Single().Sequence.ShouldBe(2, "nothing of the failed deposit was kept, and the partition moved on");
        (await service.ScalarAsync($"SELECT count(*) FROM messaging.inbox WHERE message_id = '{failing}'")).ShouldBe(0, "its inbox row rolled back with it");
        var receipts = await redelivered_messages.ReadAsync(scope, scope.ReceiptTopic, 1);
        Encoding.UTF8.GetString(receipts.Single().Value).ShouldContain("\"sequence\":2", customMessage: "no receipt for the failed deposit");
    }
}
