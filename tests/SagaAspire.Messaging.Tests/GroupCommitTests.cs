using Confluent.Kafka;

namespace SagaAspire.Messaging.Tests;

/// <summary>
/// Messages of one partition that are waiting together are handled in one transaction (group
/// commit), yet each keeps its own inbox check, and a failure among them costs the others nothing.
/// </summary>
[Collection(MessagingCollection.Name)]
public sealed class group_commit(MessagingInfrastructure infrastructure)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task messages_waiting_together_share_a_transaction_and_a_duplicate_among_them_has_no_effect(bool readsFirst)
    {
        var scope = await infrastructure.NewScopeAsync(readsFirst ? "together-rf" : "together");
        await using var service = await TestService.StartAsync(scope, readsFirst: readsFirst);
        var ids = Enumerable.Range(1, 20).Select(_ => Guid.NewGuid()).ToList();
        var deposits = ids.Select((id, i) => Deposit(id, "acct-g", i + 1)).ToList();
        deposits.Insert(10, Deposit(ids[2], "acct-g", 3)); // the third again, between the tenth and eleventh

        ProduceAtOnce(scope, deposits);

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 20);
        await Task.Delay(500); // time for a wrongly applied duplicate to show
        (await service.LedgerAsync()).Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 20), "in order, the duplicate applied once");
        var transactions = await service.ScalarAsync("SELECT count(DISTINCT xmin::text) FROM ledger");
        transactions.ShouldBeLessThan(10, $"21 messages arriving together were handled in {transactions} transactions");
        (await service.ScalarAsync($"SELECT count(*) FROM messaging.inbox WHERE message_id = '{ids[2]}'")).ShouldBe(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_failing_message_among_others_rolls_back_their_transaction_and_each_is_then_processed_alone(bool readsFirst)
    {
        var scope = await infrastructure.NewScopeAsync(readsFirst ? "together-fail-rf" : "together-fail");
        await using var service = await TestService.StartAsync(scope, readsFirst: readsFirst);
        await service.ScalarAsync("INSERT INTO broken_accounts VALUES ('acct-b') RETURNING 1");
        var broken = Guid.NewGuid();
        var deposits = Enumerable.Range(1, 10).Select(n => Deposit(Guid.NewGuid(), "acct-ok", n)).ToList();
        deposits.Insert(5, Deposit(broken, "acct-b", 1));

        ProduceAtOnce(scope, deposits);

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 10);
        ledger.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 10), "every good message once, in order, none lost with the rolled-back transaction");
        var letters = await redelivered_messages.ReadAsync(scope, scope.DeadLetterTopic, 1);
        letters.Count.ShouldBe(1, "only the failing message is dead-lettered");
        letters[0].Headers.GetString(MessageHeaders.MessageId).ShouldBe(broken.ToString());
        letters[0].Headers.GetString(MessageHeaders.DeadLetter.Reason).ShouldBe("handler-failed");
        (await service.ScalarAsync("SELECT count(*) FROM messaging.inbox")).ShouldBe(10, "the failed message left no inbox row");
    }

    [Fact]
    public async Task runs_of_different_partitions_that_wait_together_share_a_transaction()
    {
        var scope = await infrastructure.NewScopeAsync("across");
        // One shared transaction at a time, patient enough to wait out the hold below (a shorter
        // wait would roll back, see the next test).
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?>
        {
            ["Messaging:SharedTransactions"] = "1",
            ["Messaging:SharedLockTimeout"] = "00:00:30",
        });
        // Hold the handler's first query, so that every partition's messages are waiting while
        // the first transaction is held up: the runs submitted meanwhile must share the next one.
        await using var holder = await service.Database.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE broken_accounts IN ACCESS EXCLUSIVE MODE", holder, hold))
            await lockTable.ExecuteNonQueryAsync();

        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = scope.BootstrapServers }).Build())
        {
            for (var partition = 0; partition < 4; partition++)
                for (var sequence = 1; sequence <= 5; sequence++)
                    producer.Produce(new TopicPartition(scope.Topic, partition), Deposit(Guid.NewGuid(), $"acct-p{partition}", sequence));
            producer.Flush(TimeSpan.FromSeconds(30)).ShouldBe(0);
        }
        await WaitForLockWaiterAsync(service);
        await Task.Delay(1000); // the other partitions' workers submit their runs meanwhile
        await hold.RollbackAsync();

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 20);
        foreach (var account in ledger.GroupBy(r => r.Account))
            account.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 5), $"{account.Key}'s deposits once each, in order");
        // How the workers cut their partitions' messages into runs depends on when each fetch
        // lands, so the number of transactions varies; but the runs submitted during the hold
        // wait together, and without group commit no transaction would hold two partitions.
        var partitions = await service.ScalarAsync("SELECT max(accounts) FROM (SELECT count(DISTINCT account) AS accounts FROM ledger GROUP BY xmin::text) AS t");
        partitions.ShouldBeGreaterThanOrEqualTo(2, "runs of different partitions, waiting together, share a transaction");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_shared_transaction_that_waits_too_long_for_a_lock_rolls_back_and_its_messages_go_on_alone(bool readsFirst)
    {
        var scope = await infrastructure.NewScopeAsync(readsFirst ? "lock-wait-rf" : "lock-wait");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:SharedLockTimeout"] = "00:00:00.100" }, readsFirst: readsFirst);
        var rolledBack = await service.ScalarAsync("SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()");
        await using var holder = await service.Database.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE broken_accounts IN ACCESS EXCLUSIVE MODE", holder, hold))
            await lockTable.ExecuteNonQueryAsync();

        ProduceAtOnce(scope, [.. Enumerable.Range(1, 10).Select(n => Deposit(Guid.NewGuid(), "acct-w", n))]);
        await WaitForLockWaiterAsync(service);
        await Task.Delay(1000); // ten times the shared transaction's patience
        await hold.CommitAsync(); // the hold itself must not count as a rollback

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 10);
        ledger.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 10), "every message once, in order, after the lock was released");
        for (var waited = 0; await service.ScalarAsync("SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()") == rolledBack; waited++)
        {
            if (waited == 50) throw new ShouldAssertException("No transaction rolled back: the shared transaction waited for the lock as long as it was held");
            await Task.Delay(100); // statistics reach pg_stat_database within a second
        }
    }

    private static async Task WaitForLockWaiterAsync(TestService service)
    {
        for (var waited = 0; await service.ScalarAsync("SELECT count(*) FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == 0; waited++)
        {
            if (waited == 300) throw new TimeoutException("No handler came to wait for the held lock within 30 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task with_a_batch_size_of_one_every_message_commits_alone()
    {
        var scope = await infrastructure.NewScopeAsync("alone");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:ConsumerBatchSize"] = "1" });

        ProduceAtOnce(scope, [.. Enumerable.Range(1, 10).Select(n => Deposit(Guid.NewGuid(), "acct-1", n))]);

        await service.WaitForLedgerAsync(l => l.Count == 10);
        (await service.ScalarAsync("SELECT count(DISTINCT xmin::text) FROM ledger")).ShouldBe(10);
    }

    [Fact]
    public async Task a_batch_size_below_one_stops_the_service_at_start_naming_the_setting()
    {
        var scope = await infrastructure.NewScopeAsync("batch-zero");
        var error = await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:ConsumerBatchSize"] = "0" }));
        error.Message.ShouldContain("Messaging:ConsumerBatchSize must be 1 or more");
    }

    internal static Message<string, byte[]> Deposit(Guid messageId, string account, int sequence) =>
        outbox_and_inbox.RawDeposit(messageId, $$"""{"account":"{{account}}","amount":1,"sequence":{{sequence}}}""", key: "k");

    /// <summary>
    /// Produces the messages in one request to one partition (one key), so the consumer fetches
    /// them together and they wait in its queue together.
    /// </summary>
    internal static void ProduceAtOnce(TestScope scope, IEnumerable<Message<string, byte[]>> messages)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = scope.BootstrapServers, LingerMs = 50 }).Build();
        foreach (var message in messages) producer.Produce(scope.Topic, message);
        producer.Flush(TimeSpan.FromSeconds(30)).ShouldBe(0);
    }
}
