using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace SagaAspire.Messaging.Tests;

/// <summary>
/// A service built the way SagaAspire services are (AddMessaging on a generic host), which records
/// every deposit it handles in its own ledger table.
/// </summary>
public sealed class TestService : IAsyncDisposable
{
    private readonly WebApplication _host;

    private TestService(WebApplication host, TestScope scope)
    {
        _host = host;
        Scope = scope;
        Http = new HttpClient { BaseAddress = new Uri(host.Urls.First()) };
    }

    /// <summary>The service's HTTP API (the dead-letter endpoints).</summary>
    public HttpClient Http { get; }

    public TestScope Scope { get; }
    public IServiceProvider Services => _host.Services;
    public NpgsqlDataSource Database => Services.GetRequiredService<NpgsqlDataSource>();
    public Outbox Outbox => Services.GetRequiredService<Outbox>();
    internal OutboxRelay Relay => Services.GetRequiredService<OutboxRelay>();

    public static readonly Migration[] LedgerSchema =
    [
        new(1, "ledger", """
            CREATE TABLE ledger (
                seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id uuid    NOT NULL,
                account    text    NOT NULL,
                amount     numeric NOT NULL,
                sequence   integer NOT NULL,
                trace_id   text,
                -- a rule the handler does not check: its deferred insert fails (MessageContext.Write)
                CHECK (amount < 1000000)
            );
            CREATE TABLE broken_accounts (account text PRIMARY KEY);
            """),
    ];

    /// <param name="readsFirst">
    /// Handle deposits with <see cref="ReadingFirstDepositHandler"/>, whose first read goes in the
    /// inbox's round trip, rather than with <see cref="DepositHandler"/>, which the inbox records
    /// before it runs.
    /// </param>
    public static async Task<TestService> StartAsync(TestScope scope, string group = "ledger", IDictionary<string, string?>? settings = null, bool runRelay = true,
        bool readsFirst = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ").SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = scope.BootstrapServers,
            ["ConnectionStrings:ledger"] = scope.ConnectionString,
            ["Messaging:ConsumerGroup"] = group,
            ["Messaging:MaxRetryDelay"] = "00:00:00.500",
            ["Messaging:MaxHandlerAttempts"] = "3",
            ["Messaging:SessionTimeoutMs"] = "6000",
            ["Messaging:RelayPollInterval"] = "00:00:00.200",
            ["Messaging:RelayStandbyInterval"] = "00:00:00.200",
        });
        if (!runRelay) builder.Configuration["Messaging:RelayEnabled"] = "false";
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        var messaging = builder.AddMessaging("ledger", "ledger").AddContracts(TestContracts.Default);
        if (readsFirst) messaging.Handle<Deposit, ReadingFirstDepositHandler>(scope.Topic);
        else messaging.Handle<Deposit, DepositHandler>(scope.Topic);
        messaging
            .Validate<Deposit>(d => d.Amount > 0 ? [] : [$"amount must be positive, not {d.Amount}"])
            .AddMigrations("ledger", LedgerSchema);
        var host = builder.Build();
        host.MapDeadLetterApi();
        await host.StartAsync();
        return new TestService(host, scope);
    }

    /// <summary>Writes deposits to the outbox in one transaction, as a request handler would.</summary>
    public async Task<List<OutgoingMessage>> SendAsync(params Deposit[] deposits)
    {
        var messages = deposits.Select(d => new OutgoingMessage(Scope.Topic, d.Account, d)).ToList();
        await using var connection = await Database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Outbox.EnqueueAsync(transaction, messages);
        await transaction.CommitAsync();
        return messages;
    }

    public async Task<List<(Guid MessageId, string Account, int Sequence, string? TraceId)>> LedgerAsync()
    {
        await using var command = Database.CreateCommand("SELECT message_id, account, sequence, trace_id FROM ledger ORDER BY seq");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(Guid, string, int, string?)>();
        while (await reader.ReadAsync()) rows.Add((reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        return rows;
    }

    public async Task<List<(Guid MessageId, string Account, int Sequence, string? TraceId)>> WaitForLedgerAsync(Func<List<(Guid MessageId, string Account, int Sequence, string? TraceId)>, bool> done, int seconds = 45)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var ledger = await LedgerAsync();
            if (done(ledger)) return ledger;
            if (clock.Elapsed > TimeSpan.FromSeconds(seconds))
                throw new TimeoutException($"The ledger holds {ledger.Count} rows after {seconds}s: {string.Join(", ", ledger.TakeLast(10).Select(r => $"{r.Account}#{r.Sequence}"))}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Waits until the relay has deleted every published row. It deletes them with its next read,
    /// at the next wake-up or poll (Messaging:RelayPollInterval), not at once.
    /// </summary>
    public Task<long> WaitForOutboxDrainedAsync(int seconds = 10) =>
        WaitForScalarAsync("SELECT count(*) FROM messaging.outbox", waiting => waiting == 0, seconds);

    /// <summary>Reads <paramref name="sql"/>'s value until <paramref name="until"/> holds or the time is up; returns the last value read.</summary>
    public async Task<long> WaitForScalarAsync(string sql, Func<long, bool> until, int seconds = 10)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await ScalarAsync(sql);
            if (until(value) || clock.Elapsed > TimeSpan.FromSeconds(seconds)) return value;
            await Task.Delay(100);
        }
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var command = Database.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _host.StopAsync(TimeSpan.FromSeconds(20));
        await _host.DisposeAsync();
    }
}

/// <summary>
/// Records the deposit and sends the receipt it asks for; refuses accounts listed as broken (a
/// handler bug that keeps failing).
/// </summary>
public sealed class DepositHandler : IMessageHandler<Deposit>
{
    public async Task HandleAsync(Deposit message, MessageContext context, CancellationToken cancellationToken)
    {
        await using (var broken = new NpgsqlCommand(BrokenSql, context.Connection, context.Transaction)
                     { Parameters = { new() { Value = message.Account } } })
        {
            if ((long)(await broken.ExecuteScalarAsync(cancellationToken))! > 0)
                throw new InvalidOperationException($"account {message.Account} is broken");
        }
        Record(message, context);
    }

    internal const string BrokenSql = "SELECT count(*) FROM broken_accounts WHERE account = $1";

    /// <summary>The ledger row and the receipt, if one is asked for: in one round trip after the handler returns.</summary>
    internal static void Record(Deposit message, MessageContext context)
    {
        context.Write(new NpgsqlBatchCommand("INSERT INTO ledger (message_id, account, amount, sequence, trace_id) VALUES ($1, $2, $3, $4, $5)")
        {
            Parameters =
            {
                new() { Value = context.Envelope.MessageId },
                new() { Value = message.Account },
                new() { Value = message.Amount },
                new() { Value = message.Sequence },
                new() { Value = (object?)Activity.Current?.TraceId.ToHexString() ?? DBNull.Value },
            },
        });
        if (message.ReceiptTo is { } topic) context.Send(topic, new Receipt(message.Account, message.Amount, message.Sequence));
    }
}

/// <summary>
/// <see cref="DepositHandler"/>, reading first: its check of the account goes in the round trip
/// in which the inbox holds the key and records the message. A deposit of 0.01 decides without
/// reading (the inbox then records it on its own after the handler); one of 0.02 breaks the rule
/// and uses the connection before its first read; one of 0.03 ends with a write that must change
/// one row and changes none.
/// </summary>
public sealed class ReadingFirstDepositHandler : IMessageHandler<Deposit>
{
    public const decimal WithoutReading = 0.01m, ConnectionFirst = 0.02m, CheckedWriteMisses = 0.03m;

    public bool ReadsFirst => true;

    public async Task HandleAsync(Deposit message, MessageContext context, CancellationToken cancellationToken)
    {
        if (message.Amount == ConnectionFirst) _ = context.Connection;
        if (message.Amount != WithoutReading)
        {
            var broken = await context.ReadAsync([new NpgsqlBatchCommand(DepositHandler.BrokenSql) { Parameters = { new() { Value = message.Account } } }],
                async (reader, ct) => await reader.ReadAsync(ct) && reader.GetInt64(0) > 0, cancellationToken);
            if (broken) throw new InvalidOperationException($"account {message.Account} is broken");
        }
        DepositHandler.Record(message, context);
        if (message.Amount == CheckedWriteMisses)
            context.Write(new NpgsqlBatchCommand("UPDATE ledger SET amount = amount WHERE account = $1 AND sequence < 0") { Parameters = { new() { Value = message.Account } } },
                rows: 1, otherwise: changed => $"the ledger's correction changed {changed} rows, not 1");
    }
}
