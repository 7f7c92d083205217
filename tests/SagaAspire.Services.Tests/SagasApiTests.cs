using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SagaAspire.Contracts;
using SagaAspire.Orchestrator.Sagas;
using static SagaAspire.Services.Tests.SagaWaits;

namespace SagaAspire.Services.Tests;

[Collection(ServiceCollection.Name)]
public sealed class the_sagas_api(ServiceInfrastructure infrastructure)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Operations:ApiKey"] = "op-key",
        ["Orchestrator:StepTimeout"] = "00:05:00", // nothing times out during these tests
    };

    [Fact]
    public async Task shows_a_saga_started_by_an_order_and_its_outcome_when_inventory_refuses()
    {
        await using var service = await infrastructure.ServiceAsync<OrchestratorOptions>("orchestrator", Settings);
        using var client = service.CreateClient();
        using var producer = new ContractProducer(infrastructure.Kafka.BootstrapServers);
        var sagaId = Guid.NewGuid().ToString();
        var orderId = $"o-{Guid.NewGuid():N}";

        await producer.SendAsync(Topics.Orders, sagaId, new OrderPlaced(orderId, "c-1", "USD", [new OrderLine("ABC", 1, 2m)], 2m));
        var saga = await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("currentStep").GetString() == "inventory");
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Running");
        saga.GetProperty("saga").GetProperty("orderId").GetString().ShouldBe(orderId);

        var byOrder = await client.GetFromJsonAsync<JsonElement>($"/sagas?orderId={orderId}");
        byOrder.GetProperty("items").EnumerateArray().Single().GetProperty("sagaId").GetString().ShouldBe(sagaId);

        await producer.SendAsync(Topics.InventoryEvents, sagaId, new InventoryReservationFailed(orderId, "unknown SKU ABC"));
        saga = await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("status").GetString() == "Failed");
        saga.GetProperty("saga").GetProperty("failureReason").GetString().ShouldBe("unknown SKU ABC");
        saga.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("outcome").GetString()).ShouldBe(["requested", "failed", "failed"]);

        var failed = await client.GetFromJsonAsync<JsonElement>("/sagas?status=failed");
        failed.GetProperty("items").EnumerateArray().ShouldContain(s => s.GetProperty("sagaId").GetString() == sagaId);
    }

    [Fact]
    public async Task lets_an_operator_with_the_key_cancel_a_running_saga_once()
    {
        await using var service = await infrastructure.ServiceAsync<OrchestratorOptions>("orchestrator", Settings);
        using var client = service.CreateClient();
        using var producer = new ContractProducer(infrastructure.Kafka.BootstrapServers);
        var sagaId = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.Orders, sagaId, new OrderPlaced($"o-{Guid.NewGuid():N}", "c-1", "USD", [new OrderLine("ABC", 1, 2m)], 2m));
        await WaitForAsync(client, sagaId, s => s.GetProperty("saga").GetProperty("status").GetString() == "Running");

        (await client.PostAsync($"/sagas/{sagaId}/cancel", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var cancelled = await Operate(client, $"/sagas/{sagaId}/cancel");
        cancelled.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var saga = await cancelled.Content.ReadFromJsonAsync<JsonElement>();
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Compensating", "the reservation that may exist is being released");

        var again = await Operate(client, $"/sagas/{sagaId}/cancel");
        again.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        again.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await Operate(client, $"/sagas/{sagaId}/retry")).StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await Operate(client, "/sagas/no-such-saga/cancel")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task refuses_bad_filters_with_problem_details()
    {
        await using var service = await infrastructure.ServiceAsync<OrchestratorOptions>("orchestrator", Settings);
        using var client = service.CreateClient();
        var response = await client.GetAsync("/sagas?status=Sleeping&pageSize=0");
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").TryGetProperty("status", out _).ShouldBeTrue();
        problem.GetProperty("errors").TryGetProperty("pageSize", out _).ShouldBeTrue();
        (await client.GetAsync("/sagas/unknown")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private static async Task<HttpResponseMessage> Operate(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Headers = { { "X-Api-Key", "op-key" } } };
        return await client.SendAsync(request);
    }
}
