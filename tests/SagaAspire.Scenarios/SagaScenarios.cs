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
        SagaClient.Steps(saga).ShouldBe([("inventory", "Completed"), ("payment", "Completed"), ("delivery", "Completed"), ("stock", "Completed")]);
        SagaClient.Outcomes(saga).Where(o => o.EndsWith(":requested", StringComparison.Ordinal))
            .ShouldBe(["inventory:requested", "payment:requested", "delivery:requested", "stock:requested"], "each step asked for in the saga's order");
        var after = await system.StockAsync("ABC");
        (after.Sold - before.Sold).ShouldBe(2);
        after.Reserved.ShouldBe(before.Reserved);
        var payment = await system.PaymentAsync(sagaId);
        payment.GetProperty("status").GetString().ShouldBe("charged");
        payment.GetProperty("amount").GetDecimal().ShouldBe(149.98m);
    }

    [Fact]
    public async Task shows_the_booked_delivery_on_the_order_and_in_the_delivery_service()
    {
        var accepted = await system.PlaceAsync(SagaClient.Order("ABC", customerId: "c-delivered"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        var sagaId = accepted.GetProperty("sagaId").GetString()!;

        var order = await system.WaitForOutcomeAsync(orderId);
        order.GetProperty("status").GetString().ShouldBe("Approved");
        Address.From(order.GetProperty("deliveryAddress")).ShouldBe(SagaClient.DefaultAddress, "an order without an address goes to the default one");
        var booking = order.GetProperty("delivery");
        var deliveryId = booking.GetProperty("deliveryId").GetString()!;
        deliveryId.ShouldStartWith("dlv_");
        var date = DateOnly.Parse(booking.GetProperty("date").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var ordered = DateOnly.FromDateTime(order.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime);
        date.ShouldBeGreaterThan(ordered, "a delivery is booked from the day after the order on");

        var delivery = await system.DeliveryAsync(sagaId);
        delivery.GetProperty("status").GetString().ShouldBe("scheduled");
        delivery.GetProperty("orderId").GetString().ShouldBe(orderId);
        delivery.GetProperty("deliveryId").GetString().ShouldBe(deliveryId);
        delivery.GetProperty("day").GetString().ShouldBe(booking.GetProperty("date").GetString());
        Address.From(delivery.GetProperty("address")).ShouldBe(SagaClient.DefaultAddress);
        delivery.GetProperty("reason").ValueKind.ShouldBe(JsonValueKind.Null);

        var scheduled = await system.Delivery.GetFromJsonAsync<JsonElement>("/deliveries?status=scheduled&limit=500");
        scheduled.EnumerateArray().Where(d => d.GetProperty("sagaId").GetString() == sagaId)
            .Select(d => (d.GetProperty("status").GetString(), d.GetProperty("deliveryId").GetString()))
            .ShouldBe([("scheduled", deliveryId)], "the delivery service lists the saga's one delivery as scheduled");
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
        SagaClient.Steps(saga).ShouldBe([("inventory", "Compensated"), ("payment", "Failed"), ("delivery", "Pending"), ("stock", "Pending")]);
        var outcomes = SagaClient.Outcomes(saga);
        outcomes.ShouldContain("payment:failed");
        outcomes.ShouldContain("inventory:compensated");
        outcomes.IndexOf("inventory:compensated").ShouldBeGreaterThan(outcomes.IndexOf("payment:failed"));
        outcomes.ShouldNotContain(o => o.StartsWith("delivery:", StringComparison.Ordinal), "no delivery is asked for after a declined charge");
        (await system.StockAsync("ABC")).ShouldBe(before, "every reserved unit is back");
        using var delivery = await system.Delivery.GetAsync($"/deliveries/{accepted.GetProperty("sagaId").GetString()}");
        delivery.StatusCode.ShouldBe(HttpStatusCode.NotFound, "the delivery service never heard of the saga");
    }
}

public abstract class when_the_delivery_is_refused(SagaClient system)
{
    [Fact]
    public async Task refunds_the_payment_then_releases_the_stock_and_rejects_the_order()
    {
        var before = await system.StockAsync("ABC");
        var address = SagaClient.AddressIn(SagaClient.UnservedCountry);
        var accepted = await system.PlaceAsync(SagaClient.Order(address, "ABC", quantity: 2, unitPrice: 12.5m, customerId: "c-unserved"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        var sagaId = accepted.GetProperty("sagaId").GetString()!;

        var order = await system.WaitForOutcomeAsync(orderId);
        order.GetProperty("status").GetString().ShouldBe("Rejected");
        order.GetProperty("reason").GetString().ShouldBe("we do not deliver to AQ");
        Address.From(order.GetProperty("deliveryAddress")).ShouldBe(address);
        order.GetProperty("delivery").ValueKind.ShouldBe(JsonValueKind.Null, "a rejected order has no delivery");

        var saga = await system.SagaAsync(sagaId);
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Failed");
        saga.GetProperty("saga").GetProperty("failureReason").GetString().ShouldBe("we do not deliver to AQ");
        SagaClient.Steps(saga).ShouldBe([("inventory", "Compensated"), ("payment", "Compensated"), ("delivery", "Failed"), ("stock", "Pending")]);
        var outcomes = SagaClient.Outcomes(saga);
        outcomes.Where(o => o.EndsWith(":requested", StringComparison.Ordinal)).ShouldBe(["inventory:requested", "payment:requested", "delivery:requested"],
            "the stock is never committed");
        // In reverse order: the charge is refunded before the reservation is released.
        outcomes.Where(o => o.EndsWith(":compensation requested", StringComparison.Ordinal) || o.EndsWith(":compensated", StringComparison.Ordinal))
            .ShouldBe(["payment:compensation requested", "payment:compensated", "inventory:compensation requested", "inventory:compensated"]);
        outcomes.IndexOf("delivery:failed").ShouldBeLessThan(outcomes.IndexOf("payment:compensation requested"));
        outcomes[^1].ShouldBe("saga:failed");

        var payment = await system.PaymentAsync(sagaId);
        payment.GetProperty("status").GetString().ShouldBe("refunded");
        payment.GetProperty("amount").GetDecimal().ShouldBe(25m);
        payment.GetProperty("refundedAmount").GetDecimal().ShouldBe(25m, "the whole charge is given back");
        (await system.StockAsync("ABC")).ShouldBe(before, "every reserved unit is back");

        var delivery = await system.DeliveryAsync(sagaId);
        delivery.GetProperty("status").GetString().ShouldBe("refused");
        delivery.GetProperty("reason").GetString().ShouldBe("we do not deliver to AQ");
        delivery.GetProperty("deliveryId").ValueKind.ShouldBe(JsonValueKind.Null);
        delivery.GetProperty("day").ValueKind.ShouldBe(JsonValueKind.Null);
        Address.From(delivery.GetProperty("address")).ShouldBe(address);
        var refused = await system.Delivery.GetFromJsonAsync<JsonElement>("/deliveries?status=refused&limit=500");
        refused.EnumerateArray().Count(d => d.GetProperty("sagaId").GetString() == sagaId).ShouldBe(1);
    }

    [Fact]
    public async Task once_every_day_is_full_in_a_country_that_takes_one_a_day()
    {
        // Iceland takes one delivery a day, bookable for 14 days from tomorrow: 15 orders at once
        // get the 14 days, one each, and the fifteenth is refused and compensated.
        var before = await system.StockAsync("ABC");
        var accepted = await Task.WhenAll(Enumerable.Range(0, 15).Select(i =>
            system.PlaceAsync(SagaClient.Order(SagaClient.AddressIn("IS"), "ABC", unitPrice: 3m, customerId: $"c-iceland-{i}"))));
        var orders = await Task.WhenAll(accepted.Select(a => system.WaitForOutcomeAsync(a.GetProperty("orderId").GetString()!, seconds: 120)));

        var approved = orders.Where(o => o.GetProperty("status").GetString() == "Approved").ToList();
        approved.Count.ShouldBe(14);
        var days = approved.Select(o => DateOnly.Parse(o.GetProperty("delivery").GetProperty("date").GetString()!, System.Globalization.CultureInfo.InvariantCulture))
            .Order().ToList();
        days.Distinct().Count().ShouldBe(14, "one delivery a day");
        days[^1].DayNumber.ShouldBe(days[0].DayNumber + 13, "fourteen days in a row");
        var rejected = orders.Single(o => o.GetProperty("status").GetString() == "Rejected");
        rejected.GetProperty("reason").GetString()!.ShouldStartWith("no delivery slot free in IS from ");
        var sagaId = rejected.GetProperty("sagaId").GetString()!;
        (await system.PaymentAsync(sagaId)).GetProperty("status").GetString().ShouldBe("refunded");
        (await system.DeliveryAsync(sagaId)).GetProperty("status").GetString().ShouldBe("refused");
        var after = await system.StockAsync("ABC");
        (after.Sold - before.Sold).ShouldBe(14, "only the delivered orders are sold");
        after.Reserved.ShouldBe(before.Reserved);

        var areas = await system.Delivery.GetFromJsonAsync<JsonElement>("/deliveries/areas?country=IS");
        var iceland = areas.EnumerateArray().ShouldHaveSingleItem();
        iceland.GetProperty("slotsPerDay").GetInt32().ShouldBe(1);
        iceland.GetProperty("slots").EnumerateArray()
            .Where(s => days.Contains(DateOnly.Parse(s.GetProperty("day").GetString()!, System.Globalization.CultureInfo.InvariantCulture)))
            .Select(s => (s.GetProperty("capacity").GetInt32(), s.GetProperty("booked").GetInt32()))
            .ShouldBe(Enumerable.Repeat((1, 1), 14), "each of the fourteen days is full");
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
