using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

// The shared scenarios, on the system the AppHost starts.

[Collection(AppHostCollection.Name)]
public sealed class an_order_whose_every_step_succeeds_on_the_apphost(AppHostFixture host) : an_order_whose_every_step_succeeds(host.Saga);

[Collection(AppHostCollection.Name)]
public sealed class when_payment_is_declined_on_the_apphost(AppHostFixture host) : when_payment_is_declined(host.Saga);

[Collection(AppHostCollection.Name)]
public sealed class when_the_delivery_is_refused_on_the_apphost(AppHostFixture host) : when_the_delivery_is_refused(host.Saga);

[Collection(AppHostCollection.Name)]
public sealed class when_the_stock_cannot_be_reserved_on_the_apphost(AppHostFixture host) : when_the_stock_cannot_be_reserved(host.Saga);

[Collection(AppHostCollection.Name)]
public sealed class the_same_idempotency_key_twice_on_the_apphost(AppHostFixture host) : the_same_idempotency_key_twice(host.Saga);

[Collection(AppHostCollection.Name)]
public sealed class many_concurrent_orders_for_scarce_stock_on_the_apphost(AppHostFixture host) : many_concurrent_orders_for_scarce_stock(host.Saga);
