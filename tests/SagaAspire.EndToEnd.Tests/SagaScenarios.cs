using System.Net.Http.Json;
using System.Text.Json;
using SagaAspire.Scenarios;

namespace SagaAspire.EndToEnd.Tests;

// The shared scenarios, on the DevHost.

[Collection(SagaSystemCollection.Name)]
public sealed class an_order_whose_every_step_succeeds_on_the_devhost(SagaSystemFixture host) : an_order_whose_every_step_succeeds(host.Saga);

[Collection(SagaSystemCollection.Name)]
public sealed class when_payment_is_declined_on_the_devhost(SagaSystemFixture host) : when_payment_is_declined(host.Saga);

[Collection(SagaSystemCollection.Name)]
public sealed class when_the_stock_cannot_be_reserved_on_the_devhost(SagaSystemFixture host) : when_the_stock_cannot_be_reserved(host.Saga);

[Collection(SagaSystemCollection.Name)]
public sealed class the_same_idempotency_key_twice_on_the_devhost(SagaSystemFixture host) : the_same_idempotency_key_twice(host.Saga);

[Collection(SagaSystemCollection.Name)]
public sealed class many_concurrent_orders_for_scarce_stock_on_the_devhost(SagaSystemFixture host) : many_concurrent_orders_for_scarce_stock(host.Saga);

// Scenarios that need to kill processes and take the broker down: the DevHost's control over
// its own processes and its embedded broker makes them possible here.

[Collection(SagaSystemCollection.Name)]
public sealed class a_service_killed_mid_saga(SagaSystemFixture system)
{
    [Fact]
    public async Task still_ends_the_saga_correctly_once_it_is_back()
    {
        var payment = system.System.Service("payment");
        await payment.StopAsync(kill: true);
        try
        {
            var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-crash"));
            var sagaId = accepted.GetProperty("sagaId").GetString()!;
            await Task.Delay(4000); // the saga reserves stock, then waits on the dead payment service
            (await system.Saga.SagaAsync(sagaId)).GetProperty("saga").GetProperty("currentStep").GetString().ShouldBe("payment");

            await payment.StartAsync();
            var order = await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 90);
            order.GetProperty("status").GetString().ShouldBe("Approved");
        }
        finally
        {
            await payment.StartAsync();
        }
    }
}

[Collection(SagaSystemCollection.Name)]
public sealed class while_the_broker_is_down(SagaSystemFixture system)
{
    [Fact]
    public async Task orders_are_still_accepted_and_their_sagas_run_once_it_is_back()
    {
        var kafka = system.System.EmbeddedKafka!;
        kafka.SetBrokerUp(1, up: false);
        JsonElement accepted;
        try
        {
            accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-outage"));
            await Task.Delay(2000);
            (await system.Saga.Orders.GetFromJsonAsync<JsonElement>($"/orders/{accepted.GetProperty("orderId").GetString()}"))
                .GetProperty("status").GetString().ShouldBe("Pending", "the saga cannot start without the broker");
        }
        finally
        {
            kafka.SetBrokerUp(1, up: true);
        }
        var order = await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!, seconds: 120);
        order.GetProperty("status").GetString().ShouldBe("Approved", "the outbox carried the order to the saga");
    }
}
