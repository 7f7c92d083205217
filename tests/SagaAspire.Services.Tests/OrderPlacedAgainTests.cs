using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Orchestrator.Sagas;
using static SagaAspire.Services.Tests.SagaWaits;

namespace SagaAspire.Services.Tests;

/// <summary>The order service sends OrderPlaced again while its order stays Pending; the orchestrator answers by the saga's state.</summary>
[Collection(ServiceCollection.Name)]
public sealed class an_order_placed_again(ServiceInfrastructure infrastructure)
{
    // The relay is off: what the orchestrator would publish stays in its outbox, where the test reads it.
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Messaging:RelayEnabled"] = "false",
        ["Orchestrator:StepTimeout"] = "00:05:00", // nothing times out during these tests
    };

    [Fact]
    public async Task sends_the_outcome_of_a_finished_saga_again_under_a_new_id_and_records_it()
    {
        await using var service = await infrastructure.ServiceAsync<OrchestratorOptions>("orchestrator", Settings);
        using var client = service.CreateClient();
        using var producer = new ContractProducer(infrastructure.Kafka.BootstrapServers);
        var sagaId = Guid.NewGuid().ToString();
        var placed = new OrderPlaced($"o-{Guid.NewGuid():N}", "c-1", "USD", [new OrderLine("ABC", 1, 2m)], 2m);
        await producer.SendAsync(Topics.Orders, sagaId, placed);
        await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("status").GetString() == "Running");
        await producer.SendAsync(Topics.InventoryEvents, sagaId, new InventoryReservationFailed(placed.OrderId, "unknown SKU ABC"));
        await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("status").GetString() == "Failed");
        (await OutcomesAsync(service, sagaId)).Count.ShouldBe(1);

        await producer.SendAsync(Topics.Orders, sagaId, placed);

        var saga = await WaitForAsync(client, sagaId, s => Timeline(s).Any(t => t.Outcome == "outcome re-sent"));
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Failed", "the saga stays as it ended");
        Timeline(saga).Last().ShouldBe(("saga", "outcome re-sent", "OrderPlaced arrived again"));
        var outcomes = await OutcomesAsync(service, sagaId);
        outcomes.Count.ShouldBe(2);
        outcomes[1].MessageId.ShouldNotBe(outcomes[0].MessageId, "the order service's inbox must not take it for the one it has");
        outcomes[1].Payload.ShouldBe(outcomes[0].Payload, "the same rejection, with its reason");
    }

    [Fact]
    public async Task changes_nothing_while_the_saga_runs()
    {
        await using var service = await infrastructure.ServiceAsync<OrchestratorOptions>("orchestrator", Settings);
        using var client = service.CreateClient();
        using var producer = new ContractProducer(infrastructure.Kafka.BootstrapServers);
        var sagaId = Guid.NewGuid().ToString();
        var placed = new OrderPlaced($"o-{Guid.NewGuid():N}", "c-1", "USD", [new OrderLine("ABC", 1, 2m)], 2m);
        await producer.SendAsync(Topics.Orders, sagaId, placed);
        var before = await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("status").GetString() == "Running");

        var again = Guid.NewGuid();
        await producer.SendAsync(Topics.Orders, sagaId, placed, again);
        await WaitForProcessedAsync(service, again);

        var after = await client.GetFromJsonAsync<JsonElement>($"/sagas/{sagaId}");
        after.GetProperty("saga").ToString().ShouldBe(before.GetProperty("saga").ToString());
        Timeline(after).ShouldBe(Timeline(before));
        (await ScalarAsync(service, "SELECT count(*) FROM messaging.outbox WHERE saga_id = $1", sagaId)).ShouldBe(1L, "only the first reservation");
    }

    private static List<(string Step, string Outcome, string? Reason)> Timeline(JsonElement saga) =>
        [.. saga.GetProperty("timeline").EnumerateArray().Select(t => (t.GetProperty("step").GetString()!, t.GetProperty("outcome").GetString()!,
            t.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString() : null))];

    private static async Task<List<(Guid MessageId, byte[] Payload)>> OutcomesAsync(WebApplicationFactory<OrchestratorOptions> service, string sagaId)
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT message_id, payload FROM messaging.outbox WHERE saga_id = $1 AND topic = $2 ORDER BY id");
        command.Parameters.Add(new() { Value = sagaId });
        command.Parameters.Add(new() { Value = Topics.OrchestratorEvents });
        await using var reader = await command.ExecuteReaderAsync();
        var outcomes = new List<(Guid, byte[])>();
        while (await reader.ReadAsync()) outcomes.Add((reader.GetGuid(0), reader.GetFieldValue<byte[]>(1)));
        return outcomes;
    }

    private static async Task<object?> ScalarAsync(WebApplicationFactory<OrchestratorOptions> service, string sql, object parameter)
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        command.Parameters.Add(new() { Value = parameter });
        return await command.ExecuteScalarAsync();
    }

    private static async Task WaitForProcessedAsync(WebApplicationFactory<OrchestratorOptions> service, Guid messageId)
    {
        for (var i = 0; i < 300; i++)
        {
            if ((long)(await ScalarAsync(service, "SELECT count(*) FROM messaging.inbox WHERE message_id = $1", messageId))! == 1) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"Message {messageId} was not processed");
    }
}
