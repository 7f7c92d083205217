using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace SagaAspire.Scenarios;

// Each scenario is an abstract class; a test class derives a concrete one per system it runs
// on, so the same facts hold wherever the AppHost runs the system.

public abstract class an_order_whose_every_step_succeeds(SagaClient system)
{
    [Fact]
    public async Task is_approved_its_stock_sold_and_its_payment_charged()
    {
        var before = await system.StockAsync("ABC");
        var accepted = await system.PlaceAsync(SagaClient.Order("ABC", quantity: 2, unitPrice: 74.99m));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        var sagaId = accepted.GetProperty("sagaId").GetString()!;
        accepted.GetProperty("status").GetString().ShouldBe("Pending");

        var order = await system.WaitForOutcomeAsync(orderId);
        order.GetProperty("status").GetString().ShouldBe("Approved");

        var saga = await system.SagaAsync(sagaId);
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Completed");
        saga.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("status").GetString()).ShouldAllBe(s => s == "Completed");
        var after = await system.StockAsync("ABC");
        (after.Sold - before.Sold).ShouldBe(2);
        after.Reserved.ShouldBe(before.Reserved);
        var payment = await system.Payment.GetFromJsonAsync<JsonElement>($"/payments/{sagaId}");
        payment.GetProperty("status").GetString().ShouldBe("charged");
        payment.GetProperty("amount").GetDecimal().ShouldBe(149.98m);
    }

    [Fact]
    public async Task the_seed_designs_body_works_unchanged()
    {
        var orderId = $"o-{Random.Shared.Next(100_000, 999_999)}";
        using var response = await system.Orders.PostAsync("/orders", new StringContent(
            $$"""{"orderId":"{{orderId}}","sku":"ABC","quantity":2,"amount":149.99,"currency":"USD"}""", Encoding.UTF8, "application/json"));
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        response.Headers.Location!.ToString().ShouldBe($"/orders/{orderId}");
        (await system.WaitForOutcomeAsync(orderId)).GetProperty("status").GetString().ShouldBe("Approved");
    }
}

public abstract class when_payment_is_declined(SagaClient system)
{
    [Fact]
    public async Task releases_the_reserved_stock_and_rejects_the_order()
    {
        var before = await system.StockAsync("ABC");
        var accepted = await system.PlaceAsync(SagaClient.Order("ABC", quantity: 3, customerId: "declined-7"));
        var order = await system.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!);

        order.GetProperty("status").GetString().ShouldBe("Rejected");
        order.GetProperty("reason").GetString()!.ShouldContain("declined");
        var saga = await system.SagaAsync(accepted.GetProperty("sagaId").GetString()!);
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Failed");
        var outcomes = saga.GetProperty("timeline").EnumerateArray().Select(t => $"{t.GetProperty("step").GetString()}:{t.GetProperty("outcome").GetString()}").ToList();
        outcomes.ShouldContain("payment:failed");
        outcomes.ShouldContain("inventory:compensated");
        outcomes.IndexOf("inventory:compensated").ShouldBeGreaterThan(outcomes.IndexOf("payment:failed"));
        (await system.StockAsync("ABC")).ShouldBe(before, "every reserved unit is back");
    }
}

public abstract class when_the_stock_cannot_be_reserved(SagaClient system)
{
    [Fact]
    public async Task an_unknown_sku_rejects_the_order_with_nothing_to_compensate()
    {
        var accepted = await system.PlaceAsync(SagaClient.Order("NO-SUCH-SKU"));
        var order = await system.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!);
        order.GetProperty("status").GetString().ShouldBe("Rejected");
        order.GetProperty("reason").GetString()!.ShouldContain("NO-SUCH-SKU");
        var saga = await system.SagaAsync(accepted.GetProperty("sagaId").GetString()!);
        saga.GetProperty("timeline").EnumerateArray().ShouldNotContain(t => t.GetProperty("outcome").GetString() == "compensation requested");
    }

    [Fact]
    public async Task insufficient_stock_rejects_the_order()
    {
        var accepted = await system.PlaceAsync(SagaClient.Order("ABC", quantity: 10_000));
        var order = await system.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!);
        order.GetProperty("status").GetString().ShouldBe("Rejected");
        order.GetProperty("reason").GetString()!.ShouldContain("ABC");
    }
}

public abstract class the_same_idempotency_key_twice(SagaClient system)
{
    [Fact]
    public async Task gives_one_order()
    {
        var key = Guid.NewGuid().ToString();
        var body = SagaClient.Order("ABC", customerId: "c-idem");
        var first = await system.PlaceAsync(body, key);
        var second = await system.PlaceAsync(body, key);
        second.GetProperty("orderId").GetString().ShouldBe(first.GetProperty("orderId").GetString());

        using var other = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = JsonContent.Create(SagaClient.Order("ABC", quantity: 5)) };
        other.Headers.Add("Idempotency-Key", key);
        (await system.Orders.SendAsync(other)).StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);

        var orders = await system.Orders.GetFromJsonAsync<JsonElement>("/orders?pageSize=500");
        orders.GetProperty("items").EnumerateArray().Count(o => o.GetProperty("customerId").GetString() == "c-idem").ShouldBe(1);
    }
}

public abstract class many_concurrent_orders_for_scarce_stock(SagaClient system)
{
    [Fact]
    public async Task sell_exactly_the_stock_and_never_below_zero()
    {
        var start = await system.StockAsync(SagaClient.LimitedSku);
        start.Available.ShouldBe(50);

        var accepted = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            system.PlaceAsync(SagaClient.Order(SagaClient.LimitedSku, customerId: $"rush-{i}"))));
        var outcomes = await Task.WhenAll(accepted.Select(a => system.WaitForOutcomeAsync(a.GetProperty("orderId").GetString()!, seconds: 180)));

        outcomes.Count(o => o.GetProperty("status").GetString() == "Approved").ShouldBe(50);
        outcomes.Count(o => o.GetProperty("status").GetString() == "Rejected").ShouldBe(150);
        (await system.StockAsync(SagaClient.LimitedSku)).ShouldBe((0, 0, 50));
    }
}
