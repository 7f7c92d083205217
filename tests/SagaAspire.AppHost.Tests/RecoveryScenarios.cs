using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

// What goes wrong in a distributed system, on the system the AppHost runs: a service killed
// mid-saga (kill -9 of the process Aspire started, then Aspire's start), and messages the broker
// lost (the order service sends OrderPlaced again while its order stays Pending, after 10 s in
// the fixture, and the orchestrator starts the saga or, for a saga that has ended, sends its
// outcome again). The broker's outage is in CommandScenarios, through its dashboard command.

[Collection(AppHostCollection.Name)]
public sealed class a_service_killed_mid_saga(AppHostFixture system)
{
    [Fact]
    public async Task still_ends_the_saga_correctly_once_it_is_back()
    {
        await system.KillAsync("payment");
        try
        {
            var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-crash"));
            var sagaId = accepted.GetProperty("sagaId").GetString()!;
            await Task.Delay(4000); // the saga reserves stock, then waits on the dead payment service
            (await system.Saga.SagaAsync(sagaId)).GetProperty("saga").GetProperty("currentStep").GetString().ShouldBe("payment");

            await system.StartAsync("payment");
            var order = await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 90);
            order.GetProperty("status").GetString().ShouldBe("Approved");
        }
        finally
        {
            if (!await system.IsRunningAsync("payment")) await system.StartAsync("payment");
        }
    }
}

[Collection(AppHostCollection.Name)]
public sealed class an_order_placed_message_the_broker_lost(AppHostFixture system)
{
    [Fact]
    public async Task is_sent_again_so_the_saga_runs_and_the_order_is_approved()
    {
        var before = await system.Saga.StockAsync("ABC");
        var orderId = $"lost-{Guid.NewGuid():N}";
        var sagaId = Guid.CreateVersion7().ToString();
        // The order as the API stores it, but without the outbox row that would have carried its OrderPlaced.
        await OrderDatabase.ExecuteAsync(system, """
            INSERT INTO orders (order_id, saga_id, customer_id, currency, lines, total, status, delivery_address)
            VALUES ($1, $2, 'c-lost-placed', 'USD', '[{"sku":"ABC","quantity":2,"unitPrice":10}]'::jsonb, 20, 'Pending',
                    '{"street":"9 Lost Road","city":"London","postalCode":"SW1A 1AA","country":"GB"}'::jsonb)
            """, orderId, sagaId);

        var order = await system.Saga.WaitForOutcomeAsync(orderId, seconds: 60);

        order.GetProperty("status").GetString().ShouldBe("Approved");
        (await system.Saga.SagaAsync(sagaId)).GetProperty("saga").GetProperty("status").GetString().ShouldBe("Completed");
        var after = await system.Saga.StockAsync("ABC");
        (after.Sold - before.Sold).ShouldBe(2);
        after.Reserved.ShouldBe(before.Reserved);
        // The re-sent OrderPlaced carries the stored address: the delivery goes there.
        var delivery = await system.Saga.DeliveryAsync(sagaId);
        delivery.GetProperty("status").GetString().ShouldBe("scheduled");
        Address.From(delivery.GetProperty("address")).ShouldBe(new Address("9 Lost Road", "London", "SW1A 1AA", "GB"));
        order.GetProperty("delivery").GetProperty("deliveryId").GetString().ShouldBe(delivery.GetProperty("deliveryId").GetString());
    }
}

[Collection(AppHostCollection.Name)]
public sealed class an_outcome_the_broker_lost(AppHostFixture system)
{
    [Fact]
    public async Task is_sent_again_by_the_finished_saga_without_selling_or_charging_twice()
    {
        var before = await system.Saga.StockAsync("ABC");
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", quantity: 3, unitPrice: 7m, customerId: "c-lost-outcome"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        var sagaId = accepted.GetProperty("sagaId").GetString()!;
        var approved = await system.Saga.WaitForOutcomeAsync(orderId);
        approved.GetProperty("status").GetString().ShouldBe("Approved");
        var booking = approved.GetProperty("delivery");

        // As if OrderApproved had never reached the order service.
        await OrderDatabase.ExecuteAsync(system, "UPDATE orders SET status = 'Pending' WHERE order_id = $1", orderId);

        var order = await system.Saga.WaitForOutcomeAsync(orderId, seconds: 60);
        order.GetProperty("status").GetString().ShouldBe("Approved");
        var saga = await system.Saga.SagaAsync(sagaId);
        saga.GetProperty("saga").GetProperty("status").GetString().ShouldBe("Completed");
        var timeline = saga.GetProperty("timeline").EnumerateArray()
            .Select(t => (Step: t.GetProperty("step").GetString(), Outcome: t.GetProperty("outcome").GetString(), Reason: t.TryGetProperty("reason", out var reason) ? reason.ToString() : "")).ToList();
        timeline.ShouldContain(("saga", "outcome re-sent", "OrderPlaced arrived again"));
        timeline.Where(t => t.Outcome == "requested").Select(t => t.Step).ShouldBe(["inventory", "payment", "delivery", "stock"], "each step was asked for once");
        // The re-sent OrderApproved carries the delivery booked the first time.
        order.GetProperty("delivery").GetProperty("deliveryId").GetString().ShouldBe(booking.GetProperty("deliveryId").GetString());
        order.GetProperty("delivery").GetProperty("date").GetString().ShouldBe(booking.GetProperty("date").GetString());

        var after = await system.Saga.StockAsync("ABC");
        (after.Sold - before.Sold).ShouldBe(3, "the stock was sold once");
        after.Reserved.ShouldBe(before.Reserved);
        var payment = await system.Saga.Payment.GetFromJsonAsync<JsonElement>($"/payments/{sagaId}");
        payment.GetProperty("status").GetString().ShouldBe("charged");
        payment.GetProperty("amount").GetDecimal().ShouldBe(21m, "one charge");
        var delivery = await system.Saga.DeliveryAsync(sagaId);
        (delivery.GetProperty("status").GetString(), delivery.GetProperty("deliveryId").GetString()).ShouldBe(("scheduled", booking.GetProperty("deliveryId").GetString()),
            "one delivery booked");
        var sagas = await system.Saga.Orchestrator.GetFromJsonAsync<JsonElement>($"/sagas?orderId={orderId}");
        sagas.GetProperty("items").GetArrayLength().ShouldBe(1, "no second saga for the order");

        // The re-send is part of the saga's trace, in the dashboard.
        await system.Dashboard.WaitForTraceAsync(accepted.GetProperty("traceId").GetString()!, s => s.Service == "order" && s.Name == "order resend");
    }
}

/// <summary>The order service's database, as the AppHost hands it to the service.</summary>
internal static class OrderDatabase
{
    public static async Task ExecuteAsync(AppHostFixture system, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(await system.App.GetConnectionStringAsync("orders-db"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters) command.Parameters.Add(new() { Value = parameter });
        (await command.ExecuteNonQueryAsync()).ShouldBe(1);
    }
}
