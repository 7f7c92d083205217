using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SagaAspire.Order.Apis;
using SagaAspire.Order.Recovery;

namespace SagaAspire.Services.Tests;

/// <summary>An order whose OrderPlaced or outcome the broker lost stays Pending; the order service sends OrderPlaced again.</summary>
[Collection(ServiceCollection.Name)]
public sealed class an_order_left_pending(ServiceInfrastructure infrastructure)
{
    // The relay is off: what the service would publish stays in its outbox, where the test reads it.
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Messaging:RelayEnabled"] = "false",
        ["Orders:ResendPendingAfter"] = "00:00:01",
        ["Orders:ResendMaxInterval"] = "00:00:04",
        ["Orders:ResendScanInterval"] = "00:00:00.100",
    };

    [Fact]
    public async Task has_its_order_placed_sent_again_with_a_new_id_and_the_same_body_in_its_trace_leaving_status_and_updated_at_alone()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", Settings);
        using var client = service.CreateClient();
        // A total with more decimals than the orders table keeps: the re-sent body must still be the original.
        var orderId = await PlaceAsync(client, new { customerId = "c-lost", currency = "USD", items = new[] { new { sku = "ABC", quantity = 3, unitPrice = 0.3333m } } });
        var before = await RowAsync(service, orderId);

        var (sent, dueAfter) = await WaitForSendsAsync(service, orderId, before.SagaId, 3);

        sent.Select(s => s.MessageId).Distinct().Count().ShouldBe(sent.Count, "a re-send is a new message: the orchestrator's inbox must not skip it");
        sent.ShouldAllBe(s => s.Payload.SequenceEqual(sent[0].Payload), "the order's body as it was first sent");
        sent.Skip(1).ShouldAllBe(s => s.TraceParent.Split('-', StringSplitOptions.None)[1] == before.TraceId, "each re-send continues the order's trace");
        sent.Skip(1).Select(s => s.TraceParent).ShouldNotContain(sent[0].TraceParent, "each re-send is a span of its own");
        // The times compared are the database's own: when the service scheduled each re-send and when
        // it wrote it, so a busy machine can make a re-send late but never make these fail.
        (sent[1].At - before.CreatedAt).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1), "not before ResendPendingAfter");
        (dueAfter[1] - before.CreatedAt).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1 + 2), "after the first re-send the wait is twice ResendPendingAfter");
        sent[2].At.ShouldBeGreaterThanOrEqualTo(dueAfter[1], "the second re-send waits until it is due");
        (dueAfter[2] - dueAfter[1]).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(4), "the wait doubles again after the second re-send");

        var after = await RowAsync(service, orderId);
        after.Status.ShouldBe("Pending");
        after.UpdatedAt.ShouldBe(before.UpdatedAt, "updated_at says when the saga decided, nothing else");
        after.ResendCount.ShouldBeGreaterThanOrEqualTo(2);
        after.NextResendAt.ShouldNotBeNull();
    }

    [Fact]
    public async Task is_not_sent_again_once_it_is_approved()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", Settings);
        using var client = service.CreateClient();
        var orderId = await PlaceAsync(client, new { customerId = "c-ok", currency = "USD", items = new[] { new { sku = "ABC", quantity = 1, unitPrice = 2m } } });
        var row = await RowAsync(service, orderId);
        await ExecuteAsync(service, "UPDATE orders SET status = 'Approved' WHERE order_id = $1", orderId);

        await Task.Delay(2500);
        (await SendsAsync(service, row.SagaId)).Count.ShouldBe(1, "only the first OrderPlaced");
        (await RowAsync(service, orderId)).ResendCount.ShouldBe(0);
    }

    [Fact]
    public void waits_twice_as_long_after_each_re_send_up_to_the_cap()
    {
        var options = new PendingOrdersOptions { ResendPendingAfter = TimeSpan.FromSeconds(30), ResendMaxInterval = TimeSpan.FromMinutes(10) };
        options.WaitAfter(1).ShouldBe(TimeSpan.FromSeconds(60));
        options.WaitAfter(2).ShouldBe(TimeSpan.FromSeconds(120));
        options.WaitAfter(5).ShouldBe(TimeSpan.FromMinutes(10));
        options.WaitAfter(int.MaxValue).ShouldBe(TimeSpan.FromMinutes(10));
    }

    private sealed record Row(string SagaId, string Status, string TraceId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int ResendCount, DateTimeOffset? NextResendAt);

    private sealed record Sent(Guid MessageId, byte[] Payload, string TraceParent, DateTimeOffset At);

    private static async Task<string> PlaceAsync(HttpClient client, object order)
    {
        using var response = await client.PostAsJsonAsync("/orders", order);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetString()!;
    }

    private static async Task<Row> RowAsync(WebApplicationFactory<OrdersOptions> service, string orderId)
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT saga_id, status, trace_id, created_at, updated_at, resend_count, next_resend_at FROM orders WHERE order_id = $1");
        command.Parameters.Add(new() { Value = orderId });
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        return new Row(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4),
            reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6));
    }

    private static async Task<List<Sent>> SendsAsync(WebApplicationFactory<OrdersOptions> service, string sagaId)
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT message_id, payload, traceparent, created_at FROM messaging.outbox WHERE saga_id = $1 AND message_type = 'order.placed.v1' ORDER BY id");
        command.Parameters.Add(new() { Value = sagaId });
        await using var reader = await command.ExecuteReaderAsync();
        var sent = new List<Sent>();
        while (await reader.ReadAsync())
            sent.Add(new Sent(reader.GetGuid(0), reader.GetFieldValue<byte[]>(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        return sent;
    }

    /// <summary>
    /// Waits until OrderPlaced has been sent <paramref name="count"/> times, noting after each re-send
    /// when the service scheduled the next one (the row's next_resend_at by its resend_count).
    /// </summary>
    private static async Task<(List<Sent> Sent, Dictionary<int, DateTimeOffset> DueAfter)> WaitForSendsAsync(
        WebApplicationFactory<OrdersOptions> service, string orderId, string sagaId, int count)
    {
        var dueAfter = new Dictionary<int, DateTimeOffset>();
        for (var i = 0; i < 300; i++)
        {
            var row = await RowAsync(service, orderId);
            if (row.NextResendAt is { } due) dueAfter.TryAdd(row.ResendCount, due);
            var sent = await SendsAsync(service, sagaId);
            if (sent.Count >= count && dueAfter.ContainsKey(count - 1))
            {
                // The re-sends the test waited for must each have been seen with its schedule, or it cannot compare them.
                for (var resend = 1; resend < count; resend++)
                    dueAfter.ShouldContainKey(resend, $"the schedule after re-send {resend} was overwritten before the test read it");
                return (sent, dueAfter);
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"OrderPlaced for saga {sagaId} was not sent {count} times");
    }

    private static async Task ExecuteAsync(WebApplicationFactory<OrdersOptions> service, string sql, string orderId)
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        command.Parameters.Add(new() { Value = orderId });
        await command.ExecuteNonQueryAsync();
    }
}
