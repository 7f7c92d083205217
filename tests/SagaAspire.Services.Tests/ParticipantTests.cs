using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SagaAspire.Contracts;
using SagaAspire.Inventory.Data;
using SagaAspire.Payment.Domain;

namespace SagaAspire.Services.Tests;

[Collection(ServiceCollection.Name)]
public sealed class the_inventory_service(ServiceInfrastructure infrastructure)
{
    [Fact]
    public async Task reserves_all_lines_or_nothing_and_releases_what_it_reserved()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<InventoryOptions>("inventory");
        var (client, producer) = (isolated.Client, isolated.Producer);
        var start = await Stock(client, "ABC");
        start.Available.ShouldBe(1000, "the seeded catalog");

        var refused = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.InventoryCommands, refused, new ReserveInventory("o-1", [new StockLine("ABC", 2), new StockLine("NOPE", 1)]));
        var reserved = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.InventoryCommands, reserved, new ReserveInventory("o-2", [new StockLine("ABC", 3), new StockLine("ABC", 2)]));
        await WaitAsync(async () => (await Stock(client, "ABC")).Reserved == 5);
        (await Stock(client, "ABC")).ShouldBe((995, 5, 0), "only the second order's lines, merged");

        await producer.SendAsync(Topics.InventoryCommands, reserved, new ReleaseInventory("o-2"));
        await WaitAsync(async () => (await Stock(client, "ABC")).Reserved == 0);
        (await Stock(client, "ABC")).ShouldBe((1000, 0, 0));
    }

    [Fact]
    public async Task refuses_a_reservation_that_arrives_after_its_release()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<InventoryOptions>("inventory");
        var (client, producer) = (isolated.Client, isolated.Producer);
        var saga = Guid.NewGuid().ToString();

        await producer.SendAsync(Topics.InventoryCommands, saga, new ReleaseInventory("o-3"));
        await producer.SendAsync(Topics.InventoryCommands, saga, new ReserveInventory("o-3", [new StockLine("LIMITED", 5)]));
        var marker = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.InventoryCommands, marker, new ReserveInventory("o-4", [new StockLine("LIMITED", 1)]));
        // The marker's key may fall on another partition: wait until all three messages are processed.
        var database = isolated.Service.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        await WaitAsync(async () =>
        {
            await using var processed = database.CreateCommand("SELECT count(*) FROM messaging.inbox");
            return (long)(await processed.ExecuteScalarAsync())! == 3;
        });
        (await Stock(client, "LIMITED")).ShouldBe((49, 1, 0), "the late reservation took nothing");
    }

    [Fact]
    public async Task answers_404_problem_details_for_an_unknown_sku()
    {
        await using var service = await infrastructure.ServiceAsync<InventoryOptions>("inventory");
        using var client = service.CreateClient();
        var response = await client.GetAsync("/inventory/NOPE");
        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await client.GetFromJsonAsync<JsonElement>("/inventory")).EnumerateArray().Select(p => p.GetProperty("sku").GetString()).ShouldContain("LIMITED");
    }

    private static async Task<(int Available, int Reserved, int Sold)> Stock(HttpClient client, string sku)
    {
        var product = await client.GetFromJsonAsync<JsonElement>($"/inventory/{sku}");
        return (product.GetProperty("available").GetInt32(), product.GetProperty("reserved").GetInt32(), product.GetProperty("sold").GetInt32());
    }

    internal static async Task WaitAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        throw new TimeoutException("The service did not reach the expected state");
    }
}

[Collection(ServiceCollection.Name)]
public sealed class the_payment_service(ServiceInfrastructure infrastructure)
{
    [Fact]
    public async Task charges_refunds_once_and_declines_a_charge_that_follows_its_refund()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<PaymentOptions>("payment");
        var (client, producer) = (isolated.Client, isolated.Producer);
        var charged = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.PaymentCommands, charged, new ChargePayment("o-1", "c-1", 25.50m, "EUR"));
        await producer.SendAsync(Topics.PaymentCommands, charged, new RefundPayment("o-1"));
        await producer.SendAsync(Topics.PaymentCommands, charged, new RefundPayment("o-1"));
        var late = Guid.NewGuid().ToString();
        await producer.SendAsync(Topics.PaymentCommands, late, new RefundPayment("o-2"));
        await producer.SendAsync(Topics.PaymentCommands, late, new ChargePayment("o-2", "c-2", 10m, "EUR"));

        // The two sagas' keys fall on different partitions, processed concurrently: wait for both.
        await the_inventory_service.WaitAsync(async () => (await client.GetAsync($"/payments/{late}")).IsSuccessStatusCode
            && (await client.GetAsync($"/payments/{charged}")).IsSuccessStatusCode);
        await the_inventory_service.WaitAsync(async () =>
            (await client.GetFromJsonAsync<JsonElement>($"/payments/{charged}")).GetProperty("refundedAmount").GetDecimal() > 0);
        var payment = await client.GetFromJsonAsync<JsonElement>($"/payments/{charged}");
        payment.GetProperty("status").GetString().ShouldBe("refunded");
        payment.GetProperty("refundedAmount").GetDecimal().ShouldBe(25.50m);
        (await client.GetFromJsonAsync<JsonElement>($"/payments/{late}")).GetProperty("status").GetString().ShouldBe("declined");
        (await client.GetAsync("/payments?limit=abc")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }
}

public sealed class the_simulated_payment_provider
{
    private static readonly ChargePayment Charge = new("o-1", "c-1", 100m, "USD");

    [Fact]
    public void declines_customers_with_the_configured_prefix()
    {
        var decision = new ChargeDecision(new PaymentOptions()).Decide(Charge with { CustomerId = "Declined-42" });
        decision.IsApproved.ShouldBeFalse();
        decision.DeclineReason.ShouldBe("card declined for customer Declined-42");
    }

    [Fact]
    public void declines_amounts_above_the_limit_and_approves_the_rest()
    {
        var decide = new ChargeDecision(new PaymentOptions { DeclineAmountAbove = 500m });
        decide.Decide(Charge with { Amount = 500.01m }).DeclineReason!.ShouldContain("exceeds the limit");
        decide.Decide(Charge with { Amount = 500m }).IsApproved.ShouldBeTrue();
    }

    [Fact]
    public void declines_at_the_configured_failure_rate()
    {
        new ChargeDecision(new PaymentOptions { FailureRate = 0.25 }, () => 0.24).Decide(Charge).IsApproved.ShouldBeFalse();
        new ChargeDecision(new PaymentOptions { FailureRate = 0.25 }, () => 0.25).Decide(Charge).IsApproved.ShouldBeTrue();
        new ChargeDecision(new PaymentOptions(), () => 0.0).Decide(Charge).IsApproved.ShouldBeTrue("no failures by default");
    }
}
