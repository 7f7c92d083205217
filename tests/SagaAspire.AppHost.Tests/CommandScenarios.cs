using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>The dashboard's commands, invoked through Aspire's resource command service as the dashboard invokes them.</summary>
[Collection(AppHostCollection.Name)]
public sealed class the_dashboard_commands(AppHostFixture system)
{
    [Fact]
    public async Task a_broker_outage_holds_new_orders_back_until_the_broker_is_back()
    {
        var result = await ExecuteAsync("kafka", "broker-outage");
        result.Success.ShouldBeTrue(result.Message);
        result.Message!.ShouldContain("down for 8 s");
        (await BrokerStateAsync()).GetProperty("up").GetBoolean().ShouldBeFalse();

        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-outage"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        await Task.Delay(TimeSpan.FromSeconds(3));
        (await system.Saga.Orders.GetFromJsonAsync<JsonElement>($"/orders/{orderId}")).GetProperty("status").GetString()
            .ShouldBe("Pending", "no message reaches the broker while it is down");

        (await system.Saga.WaitForOutcomeAsync(orderId, seconds: 120)).GetProperty("status").GetString().ShouldBe("Approved");
        (await BrokerStateAsync()).GetProperty("up").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task kill_ends_a_service_outright_and_aspire_starts_it_again()
    {
        var before = await system.StateAsync("inventory");
        var pid = Pid(before);

        var result = await ExecuteAsync("inventory", "kill");

        result.Success.ShouldBeTrue(result.Message);
        result.Message!.ShouldContain($"process {pid}");
        ProcessExists(pid).ShouldBeFalse("the service's own process was killed");
        await system.App.ResourceNotifications.WaitForResourceHealthyAsync("inventory");
        var after = await system.StateAsync("inventory");
        Pid(after).ShouldNotBe(pid, "a new process runs the service");
        ProcessExists(Pid(after)).ShouldBeTrue();

        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-after-kill"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 120)).GetProperty("status").GetString().ShouldBe("Approved");
    }

    [Fact]
    public async Task retry_sagas_that_need_attention_finishes_a_parked_compensation()
    {
        (await ExecuteAsync("orchestrator", "retry-needs-attention")).Message.ShouldBe("No saga needs attention.");

        // A saga cancelled while inventory is down cannot release its reservation: after its
        // compensation attempts it is parked as NeedsAttention.
        (await ExecuteAsync("inventory", "stop")).Success.ShouldBeTrue();
        string sagaId;
        try
        {
            var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-needs-attention"));
            sagaId = accepted.GetProperty("sagaId").GetString()!;
            await WaitForSagaAsync(sagaId, saga => saga.GetProperty("steps")[0].GetProperty("status").GetString() == "Requested");
            using var cancel = new HttpRequestMessage(HttpMethod.Post, $"/sagas/{sagaId}/cancel") { Headers = { { "X-Api-Key", AppHostFixture.OperatorKey } } };
            (await system.Saga.Orchestrator.SendAsync(cancel)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await WaitForSagaAsync(sagaId, saga => Status(saga) == "NeedsAttention");
        }
        finally
        {
            (await ExecuteAsync("inventory", "start")).Success.ShouldBeTrue();
        }
        await system.App.ResourceNotifications.WaitForResourceHealthyAsync("inventory");

        var retried = await ExecuteAsync("orchestrator", "retry-needs-attention");

        retried.Success.ShouldBeTrue(retried.Message);
        retried.Message.ShouldBe("Retried 1 saga(s) that needed attention.");
        var done = await WaitForSagaAsync(sagaId, saga => Status(saga) == "Cancelled");
        done.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("outcome").GetString()).ShouldContain("needs attention");
    }

    private async Task<ExecuteCommandResult> ExecuteAsync(string resource, string command) =>
        await system.App.ResourceCommands.ExecuteCommandAsync((await system.StateAsync(resource)).ResourceId, command);

    private async Task<JsonElement> WaitForSagaAsync(string sagaId, Func<JsonElement, bool> condition, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement details = default;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await system.Saga.Orchestrator.GetAsync($"/sagas/{sagaId}");
            if (response.StatusCode != HttpStatusCode.NotFound) // the saga starts once its OrderPlaced arrives
            {
                details = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
                if (condition(details)) return details;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"Saga {sagaId} is {(details.ValueKind == JsonValueKind.Undefined ? "not started" : Status(details))} after {seconds} s: {details}");
    }

    private static string? Status(JsonElement details) => details.GetProperty("saga").GetProperty("status").GetString();

    private async Task<JsonElement> BrokerStateAsync()
    {
        var kafka = system.App.GetEndpoint("kafka", "control");
        using var http = new HttpClient();
        return await http.GetFromJsonAsync<JsonElement>(kafka);
    }

    private static int Pid(ResourceEvent state) =>
        int.Parse(state.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value!.ToString()!, CultureInfo.InvariantCulture);

    private static bool ProcessExists(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
}
