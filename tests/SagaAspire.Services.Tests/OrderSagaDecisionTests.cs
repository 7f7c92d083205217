using SagaAspire.Contracts;
using SagaAspire.Orchestrator.Sagas;
using SagaAspire.Sagas;

namespace SagaAspire.Services.Tests;

/// <summary>The orchestrator's order saga as declared, decided without infrastructure: the delivery step and its compensations.</summary>
public sealed class the_order_saga
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly DeliveryAddress Address = new("1 Harbour Street", "Springfield", "12345", "US");
    private static readonly OrderPlaced Order = new("o-1", "c-1", "USD", [new OrderLine("ABC", 2, 5m)], 10m, Address);
    private static readonly DeliveryBooking Booking = new("dlv_1", new DateOnly(2026, 12, 3));
    private static readonly SagaDefinition<OrderPlaced> Saga = OrderSaga.Define(new OrchestratorOptions { StepAttempts = 2, StepTimeout = TimeSpan.FromSeconds(10) });

    [Fact]
    public void reserves_charges_books_the_delivery_commits_and_approves_the_order_with_its_booking()
    {
        var (state, sent) = Run(
            new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"), new DeliveryScheduled("o-1", Booking), new InventoryCommitted("o-1"));

        sent[0].Message.ShouldBeOfType<ReserveInventory>().Lines.ShouldBe([new StockLine("ABC", 2)]);
        sent.Select(m => (m.Topic, m.Message)).Skip(1).ShouldBe(
        [
            (Topics.PaymentCommands, new ChargePayment("o-1", "c-1", 10m, "USD")),
            (Topics.DeliveryCommands, new ScheduleDelivery("o-1", Address)),
            (Topics.InventoryCommands, new CommitInventory("o-1")),
            (Topics.OrchestratorEvents, new OrderApproved("o-1", Booking)),
        ]);
        state.Status.ShouldBe(SagaStatus.Completed);
        Saga.Restate(state, Order, T0.AddMinutes(5), Guid.NewGuid).Send.Single().Message.ShouldBe(new OrderApproved("o-1", Booking),
            "an outcome sent again still carries the booking");
    }

    [Fact]
    public void refunds_then_releases_when_the_delivery_is_refused_and_rejects_the_order_with_the_reason()
    {
        var (state, sent) = Run(
            new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"), new DeliveryRefused("o-1", "we do not deliver to AQ"),
            new PaymentRefunded("o-1", 10m), new InventoryReleased("o-1"));

        sent.Skip(3).Select(m => m.Message).ShouldBe([new RefundPayment("o-1"), new ReleaseInventory("o-1"), new OrderRejected("o-1", "we do not deliver to AQ")],
            "the completed steps are undone in reverse order: the payment first, then the stock");
        state.Status.ShouldBe(SagaStatus.Failed);
        state.Steps.ShouldBe([StepStatus.Compensated, StepStatus.Compensated, StepStatus.Failed, StepStatus.Pending]);
    }

    [Fact]
    public void cancels_the_delivery_too_when_the_delivery_never_answers()
    {
        var (state, _) = Run(new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"));
        var resent = Saga.Timeout(state, Order, state.DeadlineAt!.Value, Guid.NewGuid);
        resent.Send.Single().Message.ShouldBe(new ScheduleDelivery("o-1", Address));
        resent.Send.Single().MessageId.ShouldBe(state.PendingMessageId!.Value, "a resend keeps the command's id");

        // Its outcome is unknown (a booking may exist), so it is compensated first.
        var gaveUp = Saga.Timeout(resent.State, Order, resent.State.DeadlineAt!.Value, Guid.NewGuid);
        gaveUp.Send.Single().Message.ShouldBe(new CancelDelivery("o-1"));
        gaveUp.State.FailureReason.ShouldBe("delivery did not answer after 2 attempts");

        var late = Saga.Handle(gaveUp.State, Order, new DeliveryScheduled("o-1", Booking), T0.AddMinutes(1), Guid.NewGuid);
        late.Ignored.ShouldBeTrue("a booking that arrives while its cancel is on its way changes nothing");
        var cancelled = Saga.Handle(gaveUp.State, Order, new DeliveryCancelled("o-1"), T0.AddMinutes(1), Guid.NewGuid);
        cancelled.Send.Single().Message.ShouldBe(new RefundPayment("o-1"));
        var refunded = Saga.Handle(cancelled.State, Order, new PaymentRefunded("o-1", 10m), T0.AddMinutes(1), Guid.NewGuid);
        refunded.Send.Single().Message.ShouldBe(new ReleaseInventory("o-1"));
        var released = Saga.Handle(refunded.State, Order, new InventoryReleased("o-1"), T0.AddMinutes(1), Guid.NewGuid);
        released.Send.Single().Message.ShouldBe(new OrderRejected("o-1", "delivery did not answer after 2 attempts"));
    }

    [Fact]
    public void ignores_a_refusal_after_the_booking_and_a_repeated_refund()
    {
        var (booked, _) = Run(new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"), new DeliveryScheduled("o-1", Booking));
        Saga.Handle(booked, Order, new DeliveryRefused("o-1", "late"), T0.AddMinutes(1), Guid.NewGuid).Ignored.ShouldBeTrue("the saga is at the commit now");

        var (rejected, _) = Run(
            new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"), new DeliveryRefused("o-1", "no slot"),
            new PaymentRefunded("o-1", 10m), new InventoryReleased("o-1"));
        var repeat = Saga.Handle(rejected, Order, new PaymentRefunded("o-1", 10m), T0.AddMinutes(1), Guid.NewGuid);
        repeat.Ignored.ShouldBeTrue();
        repeat.Send.ShouldBeEmpty();
    }

    [Fact]
    public void cancelled_by_an_operator_while_booking_undoes_the_delivery_the_payment_and_the_stock()
    {
        var (state, _) = Run(new InventoryReserved("o-1"), new PaymentCharged("o-1", "pay_1"));
        var cancel = Saga.Cancel(state, Order, "customer called", T0.AddMinutes(1), Guid.NewGuid);
        var sent = new List<object> { cancel.Send.Single().Message };
        var next = cancel.State;
        foreach (var reply in new object[] { new DeliveryCancelled("o-1"), new PaymentRefunded("o-1", 10m), new InventoryReleased("o-1") })
        {
            var decision = Saga.Handle(next, Order, reply, T0.AddMinutes(2), Guid.NewGuid);
            sent.AddRange(decision.Send.Select(m => m.Message));
            next = decision.State;
        }
        sent.ShouldBe([new CancelDelivery("o-1"), new RefundPayment("o-1"), new ReleaseInventory("o-1"), new OrderRejected("o-1", "customer called")]);
        next.Status.ShouldBe(SagaStatus.Cancelled);
    }

    /// <summary>Starts the saga and applies the replies in turn; returns the last state and everything sent.</summary>
    private static (SagaState State, List<SagaMessage> Sent) Run(params object[] replies)
    {
        var decision = Saga.Start("s-1", Order, T0, Guid.NewGuid);
        var sent = new List<SagaMessage>(decision.Send);
        var at = T0;
        foreach (var reply in replies)
        {
            at = at.AddSeconds(1);
            decision = Saga.Handle(decision.State, Order, reply, at, Guid.NewGuid);
            decision.Ignored.ShouldBeFalse($"{reply.GetType().Name} is expected at step {decision.State.CurrentStep}");
            sent.AddRange(decision.Send);
        }
        return (decision.State, sent);
    }
}
