using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

// The shared scenarios, on the Aspire AppHost. The category lets ./build.sh leave them out where
// no container runtime answers.

[Collection(AspireCollection.Name), Trait("Category", "Aspire")]
public sealed class an_order_whose_every_step_succeeds_on_aspire(AspireSagaHost host) : an_order_whose_every_step_succeeds(host.Saga);

[Collection(AspireCollection.Name), Trait("Category", "Aspire")]
public sealed class when_payment_is_declined_on_aspire(AspireSagaHost host) : when_payment_is_declined(host.Saga);

[Collection(AspireCollection.Name), Trait("Category", "Aspire")]
public sealed class when_the_stock_cannot_be_reserved_on_aspire(AspireSagaHost host) : when_the_stock_cannot_be_reserved(host.Saga);

[Collection(AspireCollection.Name), Trait("Category", "Aspire")]
public sealed class the_same_idempotency_key_twice_on_aspire(AspireSagaHost host) : the_same_idempotency_key_twice(host.Saga);

[Collection(AspireCollection.Name), Trait("Category", "Aspire")]
public sealed class many_concurrent_orders_for_scarce_stock_on_aspire(AspireSagaHost host) : many_concurrent_orders_for_scarce_stock(host.Saga);
