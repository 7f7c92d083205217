using static SagaAspire.Sagas.Tests.OrderSagaFixture;

namespace SagaAspire.Sagas.Tests;

public sealed class when_every_step_succeeds
{
    [Fact]
    public void reserves_then_charges_then_completes()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var started = saga.Start("s-1", AnOrder, T0, ids);
        started.Send.Single().ShouldBe(new SagaMessage("inventory.commands", new Reserve("o-1"), started.State.PendingMessageId!.Value));
        started.State.Status.ShouldBe(SagaStatus.Running);
        started.State.DeadlineAt.ShouldBe(T0.AddSeconds(10));

        var reserved = saga.Handle(started.State, AnOrder, new Reserved("o-1"), T0.AddSeconds(1), ids);
        reserved.Send.Single().Message.ShouldBe(new Charge("o-1", 42m));
        reserved.Send.Single().Topic.ShouldBe("payments.commands");

        var charged = saga.Handle(reserved.State, AnOrder, new Charged("o-1"), T0.AddSeconds(2), ids);
        charged.State.Status.ShouldBe(SagaStatus.Completed);
        charged.State.IsTerminal.ShouldBeTrue();
        charged.State.Steps.ShouldBe([StepStatus.Completed, StepStatus.Completed]);
        charged.Send.Single().ShouldSatisfyAllConditions(
            m => m.Topic.ShouldBe("orchestrator.events"),
            m => m.Message.ShouldBe(new SagaSucceeded("o-1")));
        charged.Timeline.Select(t => (t.Step, t.Outcome)).ShouldBe([("payment", "completed"), ("saga", "completed")]);
    }
}

public sealed class when_payment_is_declined
{
    [Fact]
    public void releases_the_reserved_stock_then_fails_with_the_reason()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;

        var declined = saga.Handle(state, AnOrder, new ChargeFailed("o-1", "card declined"), T0.AddSeconds(1), ids);
        declined.State.Status.ShouldBe(SagaStatus.Compensating);
        declined.Send.Single().ShouldSatisfyAllConditions(
            m => m.Topic.ShouldBe("inventory.commands"),
            m => m.Message.ShouldBe(new Release("o-1")));
        declined.State.Steps.ShouldBe([StepStatus.Compensating, StepStatus.Failed]);

        var released = saga.Handle(declined.State, AnOrder, new Released("o-1"), T0.AddSeconds(2), ids);
        released.State.Status.ShouldBe(SagaStatus.Failed);
        released.State.FailureReason.ShouldBe("card declined");
        released.Send.Single().Message.ShouldBe(new SagaFailed("o-1", "card declined"));
        released.Timeline.Select(t => t.Outcome).ShouldBe(["compensated", "failed"]);
    }
}

public sealed class when_the_reservation_fails
{
    [Fact]
    public void fails_at_once_with_nothing_to_compensate()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var failed = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new ReservationFailed("o-1", "insufficient stock for ABC"), T0, ids);
        failed.State.Status.ShouldBe(SagaStatus.Failed);
        failed.Send.Single().Message.ShouldBe(new SagaFailed("o-1", "insufficient stock for ABC"));
    }
}

public sealed class when_a_step_does_not_answer
{
    [Fact]
    public void resends_the_same_command_with_growing_timeouts()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var started = saga.Start("s-1", AnOrder, T0, ids);
        var pending = started.State.PendingMessageId;

        saga.Timeout(started.State, AnOrder, T0.AddSeconds(5), ids).Ignored.ShouldBeTrue("not yet due");
        var first = saga.Timeout(started.State, AnOrder, T0.AddSeconds(10), ids);
        first.Send.Single().ShouldBe(new SagaMessage("inventory.commands", new Reserve("o-1"), pending!.Value), "same message identity: the receiver deduplicates");
        first.State.Attempt.ShouldBe(2);
        first.State.DeadlineAt.ShouldBe(T0.AddSeconds(30), "backoff doubles the wait");
    }

    [Fact]
    public void gives_up_after_its_attempts_and_undoes_the_step_whose_outcome_is_unknown_and_those_before_it()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;
        var now = T0;
        SagaDecision decision = null!;
        for (var i = 0; i < 3; i++)
        {
            now = state.DeadlineAt!.Value;
            decision = saga.Timeout(state, AnOrder, now, ids);
            state = decision.State;
        }
        decision.Timeline[0].Outcome.ShouldBe("timed out");
        decision.Send.Single().Message.ShouldBe(new Refund("o-1"), "the charge may have happened: refund it (refunds tolerate nothing to refund)");

        state = saga.Handle(state, AnOrder, new Refunded("o-1"), now, ids).State;
        var release = saga.Handle(state, AnOrder, new Refunded("o-1"), now, ids);
        release.Ignored.ShouldBeTrue("a duplicate refund confirmation changes nothing");
        state.Status.ShouldBe(SagaStatus.Compensating);
        var done = saga.Handle(state, AnOrder, new Released("o-1"), now, ids);
        done.State.Status.ShouldBe(SagaStatus.Failed);
        done.State.FailureReason.ShouldBe("payment did not answer after 3 attempts");
    }
}

public sealed class when_a_compensation_keeps_failing
{
    [Fact]
    public void the_saga_needs_attention_and_an_operator_retry_resumes_it()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;
        state = saga.Handle(state, AnOrder, new ChargeFailed("o-1", "declined"), T0, ids).State;
        for (var i = 0; i < 4; i++) state = saga.Timeout(state, AnOrder, state.DeadlineAt!.Value, ids).State;

        state.Status.ShouldBe(SagaStatus.NeedsAttention);
        state.IsTerminal.ShouldBeFalse("never silently stuck: visibly waiting for an operator");
        saga.Handle(state, AnOrder, new Released("o-1"), T0, ids).Ignored.ShouldBeTrue();

        var retried = saga.Retry(state, AnOrder, T0.AddMinutes(5), ids);
        retried.State.Status.ShouldBe(SagaStatus.Compensating);
        retried.Send.Single().Message.ShouldBe(new Release("o-1"));
        saga.Handle(retried.State, AnOrder, new Released("o-1"), T0.AddMinutes(6), ids).State.Status.ShouldBe(SagaStatus.Failed);
    }
}

public sealed class when_replies_come_late_or_twice
{
    [Fact]
    public void a_reply_for_a_finished_saga_is_recorded_and_ignored()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var failed = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new ReservationFailed("o-1", "unknown SKU"), T0, ids).State;

        var late = saga.Handle(failed, AnOrder, new Reserved("o-1"), T0.AddMinutes(1), ids);
        late.Ignored.ShouldBeTrue();
        late.State.ShouldBe(failed);
        late.Send.ShouldBeEmpty();
        late.Timeline.Single().Outcome.ShouldBe("ignored");
    }

    [Fact]
    public void a_duplicate_reply_for_an_earlier_step_is_ignored()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var reserved = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids);
        var duplicate = saga.Handle(reserved.State, AnOrder, new Reserved("o-1"), T0, ids);
        duplicate.Ignored.ShouldBeTrue();
        duplicate.Send.ShouldBeEmpty();
    }
}

public sealed class when_an_operator_cancels
{
    [Fact]
    public void every_step_that_may_have_happened_is_undone_in_reverse_order()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;

        var cancelled = saga.Cancel(state, AnOrder, "customer asked", T0, ids);
        cancelled.Send.Single().Message.ShouldBe(new Refund("o-1"));
        state = saga.Handle(cancelled.State, AnOrder, new Refunded("o-1"), T0, ids).State;
        var released = saga.Handle(state, AnOrder, new Released("o-1"), T0, ids);
        released.State.Status.ShouldBe(SagaStatus.Cancelled);
        released.Send.Single().Message.ShouldBe(new SagaFailed("o-1", "customer asked"));
        saga.Cancel(released.State, AnOrder, "again", T0, ids).Ignored.ShouldBeTrue();
    }
}

public sealed class when_a_shipping_step_is_declared
{
    [Fact]
    public void it_runs_after_payment_and_its_failure_refunds_then_releases()
    {
        var saga = Define(Inventory, Payment, Shipping);
        var ids = Ids();
        var state = saga.Start("s-1", AnOrder, T0, ids).State;
        state = saga.Handle(state, AnOrder, new Reserved("o-1"), T0, ids).State;
        var charged = saga.Handle(state, AnOrder, new Charged("o-1"), T0, ids);
        charged.Send.Single().ShouldSatisfyAllConditions(m => m.Topic.ShouldBe("shipping.commands"), m => m.Message.ShouldBe(new Ship("o-1")));

        var sent = new List<object>();
        var decision = saga.Handle(charged.State, AnOrder, new ShippingFailed("o-1", "address unknown"), T0, ids);
        sent.AddRange(decision.Send.Select(m => m.Message));
        decision = saga.Handle(decision.State, AnOrder, new Refunded("o-1"), T0, ids);
        sent.AddRange(decision.Send.Select(m => m.Message));
        decision = saga.Handle(decision.State, AnOrder, new Released("o-1"), T0, ids);
        sent.AddRange(decision.Send.Select(m => m.Message));

        sent.ShouldBe([new Refund("o-1"), new Release("o-1"), new SagaFailed("o-1", "address unknown")]);
        decision.State.Steps.ShouldBe([StepStatus.Compensated, StepStatus.Compensated, StepStatus.Failed]);
    }

    [Fact]
    public void every_reply_the_saga_waits_for_is_known_to_the_orchestrator()
    {
        Define(Inventory, Payment, Shipping).ReplyTypes.ShouldBe(
            [typeof(Reserved), typeof(ReservationFailed), typeof(Released), typeof(Charged), typeof(ChargeFailed), typeof(Refunded), typeof(Shipped), typeof(ShippingFailed)],
            ignoreOrder: true);
    }
}

public sealed class when_the_order_arrives_again
{
    [Fact]
    public void a_completed_saga_sends_its_outcome_again_under_a_new_id_and_stays_as_it_was()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;
        var completed = saga.Handle(state, AnOrder, new Charged("o-1"), T0, ids);

        var again = saga.Restate(completed.State, AnOrder, T0.AddMinutes(1), ids);
        again.State.ShouldBe(completed.State);
        again.Send.Single().ShouldSatisfyAllConditions(
            m => m.Topic.ShouldBe("orchestrator.events"),
            m => m.Message.ShouldBe(new SagaSucceeded("o-1")),
            m => m.MessageId.ShouldNotBe(completed.Send.Single().MessageId, "the receiver's inbox must not take it for the outcome it never saw"));
        again.Timeline.Single().ShouldBe(new TimelineEntry("saga", "outcome re-sent", "Order arrived again", T0.AddMinutes(1)));
    }

    [Fact]
    public void a_failed_saga_sends_its_rejection_again_with_the_reason()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var failed = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new ReservationFailed("o-1", "insufficient stock for ABC"), T0, ids);

        var again = saga.Restate(failed.State, AnOrder, T0.AddMinutes(1), ids);
        again.State.ShouldBe(failed.State);
        again.Send.Single().Message.ShouldBe(new SagaFailed("o-1", "insufficient stock for ABC"));
        again.Timeline.Single().Outcome.ShouldBe("outcome re-sent");
    }

    [Fact]
    public void a_cancelled_saga_sends_its_rejection_again()
    {
        var saga = Define(Inventory);
        var ids = Ids();
        var cancelled = saga.Cancel(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, "customer asked", T0, ids);
        var ended = saga.Handle(cancelled.State, AnOrder, new Released("o-1"), T0, ids);
        ended.State.Status.ShouldBe(SagaStatus.Cancelled);

        saga.Restate(ended.State, AnOrder, T0, ids).Send.Single().Message.ShouldBe(new SagaFailed("o-1", "customer asked"));
    }

    [Fact]
    public void a_running_saga_changes_nothing_sends_nothing_and_records_nothing()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var running = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;

        var again = saga.Restate(running, AnOrder, T0.AddSeconds(1), ids);
        again.Ignored.ShouldBeTrue();
        again.State.ShouldBe(running);
        again.Send.ShouldBeEmpty("its own timeouts re-send what is missing");
        again.Timeline.ShouldBeEmpty();
    }

    [Fact]
    public void a_saga_that_needs_attention_is_left_to_the_operator()
    {
        var saga = OrderSaga;
        var ids = Ids();
        var state = saga.Handle(saga.Start("s-1", AnOrder, T0, ids).State, AnOrder, new Reserved("o-1"), T0, ids).State;
        state = saga.Handle(state, AnOrder, new ChargeFailed("o-1", "declined"), T0, ids).State;
        for (var i = 0; i < 4; i++) state = saga.Timeout(state, AnOrder, state.DeadlineAt!.Value, ids).State;
        state.Status.ShouldBe(SagaStatus.NeedsAttention);

        saga.Restate(state, AnOrder, T0, ids).ShouldSatisfyAllConditions(
            d => d.State.ShouldBe(state),
            d => d.Send.ShouldBeEmpty("an order is rejected only once its stock is released"));
    }
}
