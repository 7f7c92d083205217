using System.Text;
using Confluent.Kafka;
using Npgsql;
using static SagaAspire.Messaging.Tests.Polling;

namespace SagaAspire.Messaging.Tests;

[Collection(MessagingCollection.Name)]
public sealed class outbox_and_inbox(MessagingInfrastructure infrastructure)
{
    [Fact]
    public async Task a_rolled_back_transaction_publishes_nothing()
    {
        var scope = await infrastructure.NewScopeAsync("rollback");
        await using var service = await TestService.StartAsync(scope);

        await using (var connection = await service.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await service.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-1", new Deposit("acct-1", 10, 1)));
            await transaction.RollbackAsync();
        }
        await service.SendAsync(new Deposit("acct-1", 20, 2));

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 1);
        await Task.Delay(1000); // time enough for a wrongly published message to arrive too
        (await service.LedgerAsync()).Select(r => r.Sequence).ShouldBe([2]);
        ledger.Single().Account.ShouldBe("acct-1");
        (await service.WaitForOutboxDrainedAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task a_writer_that_wakes_the_relay_after_its_commit_is_published_without_waiting_for_the_poll()
    {
        var scope = await infrastructure.NewScopeAsync("wake-after-commit");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:RelayPollInterval"] = "00:01:00" });
        await Task.Delay(1000); // the relay has read the empty outbox and waits: only a NOTIFY (or a minute) wakes it

        using var wakeUp = service.Outbox.WakeUpAfterCommit();
        await using (var connection = await service.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await service.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-1", new Deposit("acct-1", 10, 1)));
            await transaction.CommitAsync();
        }
        await Task.Delay(2000);
        (await service.LedgerAsync()).ShouldBeEmpty("the commit itself sent no NOTIFY, so the relay still sleeps");

        wakeUp.Committed();
        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 1, seconds: 20); // well inside the minute of the poll
        ledger.Single().Sequence.ShouldBe(1);
    }

    [Fact]
    public async Task rows_handed_over_after_their_commit_are_published_without_reading_the_table_and_a_notify_reads_it()
    {
        var scope = await infrastructure.NewScopeAsync("hand-over");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:RelayPollInterval"] = "00:01:00" });
        await WaitUntilAsync(() => service.Relay.IsLeader, "the relay leads");
        await Task.Delay(1000); // the relay has read the empty outbox: only a hand-over, a NOTIFY or a minute moves it

        // A row in the table that nobody told the relay of (its writer never said it committed).
        using (service.Outbox.WakeUpAfterCommit())
        await using (var connection = await service.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await service.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-unsaid", new Deposit("acct-unsaid", 10, 1)));
            await transaction.CommitAsync();
        }
        // A row handed over after its commit.
        await using (var connection = await service.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            using var wakeUp = service.Outbox.WakeUpAfterCommit(transaction);
            await service.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-handed", new Deposit("acct-handed", 20, 1)));
            await transaction.CommitAsync();
            wakeUp.Committed();
        }

        (await service.WaitForLedgerAsync(l => l.Count >= 1, seconds: 20)).Single().Account.ShouldBe("acct-handed");
        await Task.Delay(1000); // time enough for a read of the table to publish the other row too
        (await service.LedgerAsync()).Select(r => r.Account).ShouldBe(["acct-handed"], "the hand-over was published as it was, without a read of the table");
        (await service.ScalarAsync("SELECT count(*) FROM messaging.outbox WHERE message_key = 'acct-unsaid'")).ShouldBe(1);

        // A NOTIFY (what a writer elsewhere sends) makes the relay read the table.
        await service.ScalarAsync($"SELECT count(*) FROM pg_notify('{Outbox.Channel}', '')");
        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 2, seconds: 20); // well inside the minute of the poll
        ledger.Select(r => r.Account).Order().ShouldBe(["acct-handed", "acct-unsaid"]);
        (await service.ScalarAsync("SELECT count(*) FROM messaging.outbox WHERE message_key = 'acct-handed'")).ShouldBe(0, "the read deleted the row published before it");
    }

    [Fact]
    public async Task only_the_rows_of_the_transaction_named_for_the_hand_over_are_handed_over()
    {
        var scope = await infrastructure.NewScopeAsync("hand-over-other");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:RelayPollInterval"] = "00:01:00" });
        await WaitUntilAsync(() => service.Relay.IsLeader, "the relay leads");

        await using (var connection = await service.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            using var wakeUp = service.Outbox.WakeUpAfterCommit(transaction);
            // Another transaction in the same flow writes a row and rolls back: it must never go out.
            await using (var otherConnection = await service.Database.OpenConnectionAsync())
            await using (var other = await otherConnection.BeginTransactionAsync())
            {
                await service.Outbox.EnqueueAsync(other, new OutgoingMessage(scope.Topic, "acct-1", new Deposit("acct-1", 10, 1)));
                await other.RollbackAsync();
            }
            await service.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-1", new Deposit("acct-1", 20, 2)));
            await transaction.CommitAsync();
            wakeUp.Committed();
        }

        (await service.WaitForLedgerAsync(l => l.Count >= 1, seconds: 20)).Single().Sequence.ShouldBe(2);
        await Task.Delay(1000); // time enough for a wrongly published message to arrive too
        (await service.LedgerAsync()).Select(r => r.Sequence).ShouldBe([2]);
    }

    [Fact]
    public async Task a_writer_in_a_replica_whose_relay_does_not_lead_wakes_the_leader_through_the_database()
    {
        var scope = await infrastructure.NewScopeAsync("wake-remote");
        var slowPoll = new Dictionary<string, string?> { ["Messaging:RelayPollInterval"] = "00:01:00" };
        await using var leader = await TestService.StartAsync(scope, settings: slowPoll);
        await using var writer = await TestService.StartAsync(scope, settings: slowPoll, runRelay: false);
        await WaitUntilAsync(() => leader.Relay.IsLeader, "the first replica leads");
        await Task.Delay(1000); // the leader has read the empty outbox and waits: only a NOTIFY (or a minute) wakes it

        using var wakeUp = writer.Outbox.WakeUpAfterCommit();
        await using (var connection = await writer.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await writer.Outbox.EnqueueAsync(transaction, new OutgoingMessage(scope.Topic, "acct-1", new Deposit("acct-1", 10, 1)));
            await transaction.CommitAsync();
        }
        wakeUp.Committed();
        var ledger = await leader.WaitForLedgerAsync(l => l.Count >= 1, seconds: 20); // well inside the minute of the poll
        ledger.Single().Sequence.ShouldBe(1);
    }

    [Fact]
    public async Task a_relay_that_stops_leading_hands_the_lead_on_while_its_process_and_pool_live_on()
    {
        var scope = await infrastructure.NewScopeAsync("handover");
        await using var first = await TestService.StartAsync(scope);
        await WaitUntilAsync(() => first.Relay.IsLeader, "the first replica leads");
        await using var second = await TestService.StartAsync(scope);
        await first.SendAsync(new Deposit("acct-h", 1, 1));
        await first.WaitForLedgerAsync(l => l.Count == 1);

        // The term ends, the process does not: the lock must go with the relay's session, not
        // stay behind on a connection resting in the pool.
        await first.Relay.StopAsync(CancellationToken.None);
        await WaitUntilAsync(() => second.Relay.IsLeader, "the second replica takes the lead");
        (await second.ScalarAsync("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()")).ShouldBe(1, "only the new leader's lock is held");

        await first.SendAsync(new Deposit("acct-h", 2, 2));
        var ledger = await second.WaitForLedgerAsync(l => l.Count == 2);
        ledger.Select(r => r.Sequence).ShouldBe([1, 2]);
    }

    [Fact]
    public async Task the_relay_vacuums_the_outbox_after_deleting_as_many_rows_as_it_is_told()
    {
        var scope = await infrastructure.NewScopeAsync("vacuum");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:RelayVacuumAfter"] = "100" });
        for (var batch = 0; batch < 3; batch++)
            await service.SendAsync([.. Enumerable.Range(1, 50).Select(i => new Deposit("acct-1", 1, batch * 50 + i))]);
        await service.WaitForLedgerAsync(l => l.Count >= 150);
        (await service.WaitForOutboxDrainedAsync()).ShouldBe(0);

        // VACUUM counts here, autovacuum apart (autovacuum_count), so this is the relay's.
        (await service.WaitForScalarAsync(RelayVacuums, vacuums => vacuums > 0))
            .ShouldBeGreaterThanOrEqualTo(1, "150 rows deleted, with a vacuum due every 100");
    }

    [Fact]
    public async Task the_relay_goes_on_publishing_while_its_vacuum_waits()
    {
        var scope = await infrastructure.NewScopeAsync("vacuum-waits");
        await using var service = await TestService.StartAsync(scope, settings: new Dictionary<string, string?> { ["Messaging:RelayVacuumAfter"] = "10" });
        // A lock that VACUUM needs and inserts, reads and deletes do not: the vacuum waits for it.
        await using var holder = await service.Database.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE messaging.outbox IN SHARE UPDATE EXCLUSIVE MODE", holder, held))
            await lockTable.ExecuteNonQueryAsync();

        await service.SendAsync([.. Enumerable.Range(1, 20).Select(i => new Deposit("acct-v", 1, i))]);
        await service.WaitForLedgerAsync(l => l.Count == 20);
        (await service.WaitForScalarAsync(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'VACUUM%' AND wait_event_type = 'Lock'", waiting => waiting > 0))
            .ShouldBe(1, "20 rows deleted with a vacuum due every 10: the relay's vacuum waits for the lock");

        await service.SendAsync([.. Enumerable.Range(21, 10).Select(i => new Deposit("acct-v", 1, i))]);
        var ledger = await service.WaitForLedgerAsync(l => l.Count == 30, seconds: 20);
        ledger.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 30), "published while the vacuum waited");

        await held.RollbackAsync();
        (await service.WaitForScalarAsync(RelayVacuums, vacuums => vacuums > 0)).ShouldBeGreaterThanOrEqualTo(1);
    }

    /// <summary>The outbox's vacuums by command, which the relay's are (autovacuum's count apart).</summary>
    private const string RelayVacuums = "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = 'messaging' AND relname = 'outbox'";

    [Fact]
    public async Task per_key_order_holds_under_concurrent_writers_and_two_replicas()
    {
        var scope = await infrastructure.NewScopeAsync("order");
        await using var first = await TestService.StartAsync(scope);
        await using var second = await TestService.StartAsync(scope);

        const int Accounts = 8, PerAccount = 40;
        await Task.WhenAll(Enumerable.Range(0, Accounts).Select(a => Task.Run(async () =>
        {
            var writer = a % 2 == 0 ? first : second;
            for (var n = 1; n <= PerAccount; n++) await writer.SendAsync(new Deposit($"acct-{a}", n, n));
        })));

        var ledger = await first.WaitForLedgerAsync(l => l.Count >= Accounts * PerAccount, seconds: 90);
        ledger.Count.ShouldBe(Accounts * PerAccount, "every message has exactly one effect");
        ledger.Select(r => r.MessageId).Distinct().Count().ShouldBe(Accounts * PerAccount);
        foreach (var account in ledger.GroupBy(r => r.Account))
            account.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, PerAccount), $"{account.Key} in the order it was written");
        new[] { first.Relay.IsLeader, second.Relay.IsLeader }.Count(l => l).ShouldBeLessThanOrEqualTo(1, "one relay leads at a time");
    }

    [Fact]
    public async Task a_message_delivered_twice_has_one_effect()
    {
        var scope = await infrastructure.NewScopeAsync("duplicate");
        await using var service = await TestService.StartAsync(scope);
        var messageId = Guid.NewGuid();
        using (var producer = RawProducer(scope))
        {
            for (var i = 0; i < 2; i++)
                await producer.ProduceAsync(scope.Topic, RawDeposit(messageId, """{"account":"acct-d","amount":5,"sequence":1}"""));
            await producer.ProduceAsync(scope.Topic, RawDeposit(Guid.NewGuid(), """{"account":"acct-d","amount":6,"sequence":2}"""));
        }

        var ledger = await service.WaitForLedgerAsync(l => l.Any(r => r.Sequence == 2));
        ledger.Select(r => r.Sequence).ShouldBe([1, 2]);
        (await service.ScalarAsync($"SELECT count(*) FROM messaging.inbox WHERE message_id = '{messageId}'")).ShouldBe(1);
    }

    [Fact]
    public async Task a_redelivery_after_the_database_commit_is_deduplicated()
    {
        var scope = await infrastructure.NewScopeAsync("redeliver");
        await using (var service = await TestService.StartAsync(scope))
        {
            await service.SendAsync([.. Enumerable.Range(1, 10).Select(n => new Deposit("acct-r", n, n))]);
            await service.WaitForLedgerAsync(l => l.Count == 10);
        }

        // As if the process had died after its database commits but before its offset commits:
        // the group's offsets go back to the start, and every message comes again.
        RewindGroup(scope, "ledger");

        await using var restarted = await TestService.StartAsync(scope);
        await restarted.SendAsync(new Deposit("acct-r", 11, 11));
        var ledger = await restarted.WaitForLedgerAsync(l => l.Any(r => r.Sequence == 11));
        ledger.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 11));
    }

    [Fact]
    public async Task a_relay_that_dies_mid_batch_loses_nothing()
    {
        var scope = await infrastructure.NewScopeAsync("relaycrash");
        await using var service = await TestService.StartAsync(scope, runRelay: false);
        await service.SendAsync([.. Enumerable.Range(1, 200).Select(n => new Deposit($"acct-{n % 5}", n, n))]);

        // The relay publishes 120 of the 200 rows, then its process "dies" before it deletes any.
        using (var real = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = scope.BootstrapServers, EnableIdempotence = true }).Build())
        {
            var dying = DyingProducer.Wrap(real, produceBeforeDeath: 120);
            await using var connection = await service.Database.OpenConnectionAsync();
            await Should.ThrowAsync<DyingProducer.ProcessDied>(() => service.Relay.PublishBatchAsync(connection, dying, CancellationToken.None));
            real.Flush(TimeSpan.FromSeconds(10));
        }
        (await service.ScalarAsync("SELECT count(*) FROM messaging.outbox")).ShouldBe(200, "nothing was deleted before the crash");

        await using var replacement = await TestService.StartAsync(scope); // its relay takes over
        var ledger = await replacement.WaitForLedgerAsync(l => l.Count >= 200, seconds: 60);
        await Task.Delay(500);
        ledger = await replacement.LedgerAsync();
        ledger.Select(r => r.Sequence).Order().ShouldBe(Enumerable.Range(1, 200));
        (await replacement.WaitForOutboxDrainedAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task a_database_outage_holds_the_partition_and_loses_nothing()
    {
        // A PostgreSQL of its own, since this test stops it.
        await using var postgres = await Embedded.EmbeddedPostgres.StartAsync();
        await postgres.CreateDatabaseAsync("ledger");
        var shared = await infrastructure.NewScopeAsync("outage");
        var scope = shared with { ConnectionString = postgres.ConnectionString("ledger") + ";Timeout=3" };
        await using var service = await TestService.StartAsync(scope);
        await service.SendAsync([.. Enumerable.Range(1, 5).Select(n => new Deposit("acct-o", n, n))]);
        await service.WaitForLedgerAsync(l => l.Count == 5);

        using (var producer = RawProducer(scope))
        {
            await postgres.StopAsync();
            for (var n = 6; n <= 10; n++)
                await producer.ProduceAsync(scope.Topic, RawDeposit(Guid.NewGuid(), $$"""{"account":"acct-o","amount":{{n}},"sequence":{{n}}}"""));
            await Task.Delay(2000); // the consumer meets the outage and retries
            await postgres.RestartAsync();
        }

        var ledger = await service.WaitForLedgerAsync(l => l.Count >= 10, seconds: 60);
        ledger.Select(r => r.Sequence).ShouldBe(Enumerable.Range(1, 10), "in order, each once");
    }

    [Fact]
    public async Task a_row_the_broker_can_never_take_is_parked_and_the_rows_behind_it_are_published()
    {
        var scope = await infrastructure.NewScopeAsync("parked");
        await using var service = await TestService.StartAsync(scope);
        await service.SendAsync(new Deposit("acct-p", 1, 1));
        await service.SendAsync(new Deposit("acct-p", 2, 2) { Memo = new string('x', 2_000_000) }); // over the producer's 1 MB limit
        await service.SendAsync(new Deposit("acct-p", 3, 3));

        var ledger = await service.WaitForLedgerAsync(l => l.Count == 2);
        ledger.Select(r => r.Sequence).ShouldBe([1, 3]);
        (await service.ScalarAsync("SELECT count(*) FROM messaging.outbox_parked WHERE error LIKE 'MsgSizeTooLarge:%'")).ShouldBe(1);
        (await service.WaitForOutboxDrainedAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task consumer_lag_counts_what_waits_behind_a_held_partition_and_falls_to_zero()
    {
        var scope = await infrastructure.NewScopeAsync("lag");
        var group = $"lag-{Guid.NewGuid():N}";
        await using var service = await TestService.StartAsync(scope, group);
        await service.SendAsync(new Deposit("acct-lag", 1, 1));
        await service.WaitForLedgerAsync(l => l.Count == 1);
        (await WaitForLagAsync(group, lag => lag == 0)).ShouldBe(0);

        // The handler's insert waits on this lock, holding the partition; the rest queue behind it.
        await using (var blocker = await service.Database.OpenConnectionAsync())
        await using (var hold = await blocker.BeginTransactionAsync())
        {
            await using (var lockLedger = new NpgsqlCommand("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE", blocker, hold))
                await lockLedger.ExecuteNonQueryAsync();
            await service.SendAsync([.. Enumerable.Range(2, 20).Select(n => new Deposit("acct-lag", n, n))]);
            (await WaitForLagAsync(group, lag => lag == 20)).ShouldBe(20, "twenty messages written, none finished");
            await hold.RollbackAsync();
        }

        await service.WaitForLedgerAsync(l => l.Count == 21);
        (await WaitForLagAsync(group, lag => lag == 0)).ShouldBe(0);
    }

    /// <summary>Reads the consumer group's lag (summed over its partitions) until it satisfies <paramref name="done"/>.</summary>
    private static async Task<long> WaitForLagAsync(string group, Func<long, bool> done, int seconds = 30)
    {
        long lag = 0;
        var reported = false;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingTelemetry.Name && instrument.Name == "sagaaspire.messaging.consumer.lag") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "messaging.consumer.group.name" && Equals(tag.Value, group)) { lag += value; reported = true; }
        });
        listener.Start();
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            lag = 0;
            reported = false;
            listener.RecordObservableInstruments();
            if (reported && done(lag)) return lag;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The lag of consumer group {group} is {(reported ? lag : "not reported")} after {seconds}s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task migrations_apply_once_when_replicas_start_together()
    {
        var scope = await infrastructure.NewScopeAsync("migrate");
        await using var dataSource = NpgsqlDataSource.Create(scope.ConnectionString);
        var logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        Migration[] migrations = [new(1, "a table", "CREATE TABLE once (id int)"), new(2, "a column", "ALTER TABLE once ADD COLUMN note text")];

        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => SchemaMigrator.ApplyAsync(dataSource, "replicas", migrations, logger))));

        await using var count = dataSource.CreateCommand("SELECT count(*) FROM messaging.schema_migrations WHERE component = 'replicas'");
        (await count.ExecuteScalarAsync()).ShouldBe(2L);
    }

    internal static IProducer<string, byte[]> RawProducer(TestScope scope) =>
        new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = scope.BootstrapServers }).Build();

    internal static Message<string, byte[]> RawDeposit(Guid messageId, string json, string key = "acct", string type = "test.deposit.v1") => new()
    {
        Key = key,
        Value = Encoding.UTF8.GetBytes(json),
        Headers = new Headers
        {
            { MessageHeaders.MessageId, Encoding.UTF8.GetBytes(messageId.ToString()) },
            { MessageHeaders.MessageType, Encoding.UTF8.GetBytes(type) },
            { MessageHeaders.SagaId, Encoding.UTF8.GetBytes(key) },
        },
    };

    private static void RewindGroup(TestScope scope, string group)
    {
        // Joins the group as a member (the broker accepts commits from members only), then moves
        // every partition's committed offset back to the beginning.
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = scope.BootstrapServers, GroupId = group, EnableAutoCommit = false, SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(scope.Topic);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (consumer.Assignment.Count < 4 && DateTime.UtcNow < deadline) consumer.Consume(TimeSpan.FromMilliseconds(100));
        consumer.Assignment.Count.ShouldBe(4);
        consumer.Commit(consumer.Assignment.Select(p => new TopicPartitionOffset(p, 0)));
        consumer.Close();
    }
}
