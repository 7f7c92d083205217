using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SagaAspire.Scenarios;
using static Microsoft.Playwright.Assertions;

namespace SagaAspire.AppHost.Tests;

/// <summary>The Saga Explorer in a real headless Chromium, against the whole system the AppHost runs.</summary>
[Collection(AppHostCollection.Name)]
public sealed partial class the_saga_explorer(AppHostFixture system, HeadlessBrowser browser) : IClassFixture<HeadlessBrowser>
{
    private static readonly string[] Services = ["order", "orchestrator", "inventory", "payment", "delivery"];
    private static readonly string[] Steps = ["inventory", "payment", "delivery", "stock"];

    [Fact]
    public Task shows_a_new_order_live_finds_it_by_order_id_and_draws_its_trace() => WithExplorerAsync("completed-saga", async explorer =>
    {
        var page = explorer.Page;
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-explorer"));
        var orderId = accepted.GetProperty("orderId").GetString()!;
        var sagaId = accepted.GetProperty("sagaId").GetString()!;
        await Expect(page.Locator("#saga-intro")).ToHaveTextAsync(
            "Every order runs one saga: reserve stock, charge payment, schedule delivery, commit the stock; a failure compensates the completed steps in reverse order.");

        // The list was open before the order existed: the saga appears and completes without a reload.
        var row = page.Locator($"tr.saga-row[data-saga-id='{sagaId}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row.Locator(".status-cell")).ToHaveTextAsync("Completed");
        await explorer.ScreenshotAsync("list");

        // Filtered by another status, the saga is not listed; by its own, it is.
        await page.Locator("#status-filter").SelectOptionAsync("Failed");
        await Expect(page).ToHaveURLAsync(new Regex("status=Failed"));
        await Expect(row).ToHaveCountAsync(0);
        await page.Locator("#status-filter").SelectOptionAsync("Completed");
        await Expect(row).ToBeVisibleAsync();
        await Expect(page.Locator("#status-filter option[value='Completed']")).ToHaveTextAsync(new Regex(@"^Completed \([1-9]\d*\)$"));
        await Expect(page.Locator("tr.saga-row .status-cell").Filter(new() { HasNotText = "Completed" })).ToHaveCountAsync(0);

        await page.Locator("#order-search").FillAsync(orderId);
        await page.Locator("#find button[type=submit]").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"#/sagas/{Regex.Escape(sagaId)}$"));
        await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Completed");
        await Expect(page.Locator(".step")).ToHaveCountAsync(Steps.Length);
        (await page.Locator(".step").EvaluateAllAsync<string[]>("steps => steps.map(s => s.dataset.step)")).ShouldBe(Steps, "the four steps in the saga's order");
        foreach (var step in Steps)
            await Expect(page.Locator($".step[data-step='{step}']")).ToHaveAttributeAsync("data-status", "Completed");
        await Expect(page.Locator("#timeline tr[data-outcome='completed']").Last).ToContainTextAsync("saga");
        await Expect(page.Locator("#timeline tr.compensation")).ToHaveCountAsync(0);

        await Expect(page.Locator("#trace-id")).ToHaveTextAsync(accepted.GetProperty("traceId").GetString()!);
        var waterfall = page.Locator("#waterfall");
        await Expect(waterfall.Locator(".row[data-name='POST /orders/']")).ToHaveCountAsync(1);
        foreach (var service in Services)
            await Expect(waterfall.Locator($".row[data-service='{service}']").First).ToBeVisibleAsync();
        await Expect(waterfall.Locator(".row[data-name='send orchestrator.events']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row:not(.compensation)[data-service='delivery'][data-name='process delivery.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row.compensation")).ToHaveCountAsync(0);
        // Each service has a colour of its own in the legend and the bars; delivery's is its own, not a fallback's.
        var legend = await page.Locator("#trace .legend span[style]").EvaluateAllAsync<string[][]>(
            "items => items.map(i => [i.textContent, i.style.getPropertyValue('--swatch')])");
        legend.Select(l => l[0]).Order(StringComparer.Ordinal).ShouldBe(Services.Order(StringComparer.Ordinal));
        legend.Select(l => l[1]).Distinct().Count().ShouldBe(Services.Length, "a distinct colour per service");
        legend.Single(l => l[0] == "delivery")[1].ShouldBe("#c2185b");
        await explorer.ScreenshotAsync("completed-saga");
    });

    [Fact]
    public Task marks_the_compensation_of_a_declined_payment_in_steps_timeline_and_trace() => WithExplorerAsync("declined-saga", async explorer =>
    {
        var page = explorer.Page;
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "declined-explorer"));
        var sagaId = accepted.GetProperty("sagaId").GetString()!;

        await page.GotoAsync($"/explorer/#/sagas/{sagaId}");
        await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Failed");
        await Expect(page.Locator("#failure-reason")).ToContainTextAsync("declined");
        await Expect(page.Locator(".step[data-step='inventory']")).ToHaveAttributeAsync("data-status", "Compensated");
        await Expect(page.Locator(".step[data-step='payment']")).ToHaveAttributeAsync("data-status", "Failed");
        await Expect(page.Locator(".step[data-step='delivery']")).ToHaveAttributeAsync("data-status", "Pending");
        await Expect(page.Locator(".step[data-step='stock']")).ToHaveAttributeAsync("data-status", "Pending");
        var compensation = page.Locator("#timeline tr.compensation");
        await Expect(compensation.Filter(new() { HasText = "compensation requested" })).ToContainTextAsync("inventory");
        await Expect(compensation.Filter(new() { HasText = "compensated" }).First).ToContainTextAsync("inventory");

        // In the trace, the release and everything after it are marked as compensation.
        // The trace, read from the dashboard: the release and everything after it are marked as compensation.
        var waterfall = page.Locator("#waterfall");
        foreach (var service in Services.Where(s => s != "delivery"))
            await Expect(waterfall.Locator($".row[data-service='{service}']").First).ToBeVisibleAsync();
        await Expect(waterfall.Locator(".row.compensation[data-service='inventory'][data-name='process inventory.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row.compensation[data-name='send orchestrator.events']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row:not(.compensation)[data-service='payment'][data-name='process payments.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row[data-service='delivery']")).ToHaveCountAsync(0, new() { Timeout = 1000 });
        var dashboard = system.DashboardLogin.GetLeftPart(UriPartial.Authority);
        await Expect(page.Locator("#dashboard-link")).ToHaveAttributeAsync("href", $"{dashboard}/traces/detail/{accepted.GetProperty("traceId").GetString()}");
        await explorer.ScreenshotAsync("declined-saga");
    });

    [Fact]
    public Task marks_the_refund_then_the_release_of_a_refused_delivery_in_steps_timeline_and_trace() => WithExplorerAsync("delivery-refused-saga", async explorer =>
    {
        var page = explorer.Page;
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order(SagaClient.AddressIn(SagaClient.UnservedCountry), "ABC", customerId: "c-explorer-unserved"));
        var sagaId = accepted.GetProperty("sagaId").GetString()!;

        await page.GotoAsync($"/explorer/#/sagas/{sagaId}");
        await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Failed");
        await Expect(page.Locator("#failure-reason")).ToHaveTextAsync("we do not deliver to AQ");
        foreach (var (step, status) in new[] { ("inventory", "Compensated"), ("payment", "Compensated"), ("delivery", "Failed"), ("stock", "Pending") })
            await Expect(page.Locator($".step[data-step='{step}']")).ToHaveAttributeAsync("data-status", status);

        // The timeline's compensation rows: the payment's refund, then the inventory's release.
        var compensation = page.Locator("#timeline tr.compensation");
        await Expect(compensation.Locator("td:nth-child(3)")).ToHaveTextAsync(["payment", "payment", "inventory", "inventory"]);
        await Expect(compensation.Locator("td.outcome")).ToHaveTextAsync(
            [new Regex("^compensation requested"), new Regex("^compensated"), new Regex("^compensation requested"), new Regex("^compensated")]);
        await Expect(page.Locator("#timeline tr[data-outcome='failed']").First).ToContainTextAsync("we do not deliver to AQ");

        // The waterfall: the charge, the reservation and the refused schedule are the saga's work;
        // the refund, the release and the outcome are compensation, the refund first.
        var waterfall = page.Locator("#waterfall");
        foreach (var service in Services)
            await Expect(waterfall.Locator($".row[data-service='{service}']").First).ToBeVisibleAsync();
        await Expect(waterfall.Locator(".row.compensation[data-service='payment'][data-name='process payments.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row.compensation[data-service='inventory'][data-name='process inventory.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row.compensation[data-name='send orchestrator.events']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row:not(.compensation)[data-service='payment'][data-name='process payments.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row:not(.compensation)[data-service='inventory'][data-name='process inventory.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row:not(.compensation)[data-service='delivery'][data-name='process delivery.commands']")).ToHaveCountAsync(1);
        await Expect(waterfall.Locator(".row.compensation[data-service='delivery']")).ToHaveCountAsync(0);
        (await waterfall.Locator(".row.compensation[data-name^='process '][data-service='payment'], .row.compensation[data-name^='process '][data-service='inventory']")
            .EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.service)")).ShouldBe(["payment", "inventory"], "the refund starts before the release");
        await explorer.ScreenshotAsync("delivery-refused-saga");
    });

    [Fact]
    public Task lets_an_operator_with_the_key_cancel_a_waiting_saga() => WithExplorerAsync("cancelled-saga", async explorer =>
    {
        var page = explorer.Page;
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await system.KillAsync("payment");
        try
        {
            var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "c-explorer-cancel"));
            var sagaId = accepted.GetProperty("sagaId").GetString()!;
            await page.GotoAsync($"/explorer/#/sagas/{sagaId}");
            await Expect(page.Locator(".step[data-step='payment']")).ToHaveAttributeAsync("data-status", "Requested");
            await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Running");

            await page.Locator("#api-key").FillAsync("not-the-key");
            await page.Locator("#cancel").ClickAsync();
            await Expect(page.Locator("#action-result")).ToContainTextAsync("API key required");
            await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Running");

            // The key typed in must survive the page's updates: the waiting saga's timeline grows
            // (a payment resend) before the click.
            var rows = await page.Locator("#timeline tbody tr").CountAsync();
            await page.Locator("#api-key").FillAsync(AppHostFixture.OperatorKey);
            await Expect(page.Locator("#timeline tbody tr")).Not.ToHaveCountAsync(rows);
            await Expect(page.Locator("#api-key")).ToHaveValueAsync(AppHostFixture.OperatorKey);
            await page.Locator("#cancel").ClickAsync();
            await Expect(page.Locator("#action-result")).ToContainTextAsync("Cancel accepted");
            await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Compensating");

            // The payment's outcome is unknown, so it is refunded as well: that needs the service back.
            await system.StartAsync("payment");
            await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Cancelled", new() { Timeout = 90_000 });
            await Expect(page.Locator(".step[data-step='inventory']")).ToHaveAttributeAsync("data-status", "Compensated");
            await Expect(page.Locator("#timeline tr[data-outcome='cancelled']").First).ToContainTextAsync("cancelled by an operator");
            await Expect(page.Locator("#cancel")).ToBeDisabledAsync();
            await explorer.ScreenshotAsync("cancelled-saga");
        }
        finally
        {
            if (!await system.IsRunningAsync("payment")) await system.StartAsync("payment");
        }
    });

    [Fact]
    public Task says_clearly_when_a_saga_does_not_exist() => WithExplorerAsync("unknown-saga", async explorer =>
    {
        await explorer.Page.GotoAsync("/explorer/#/sagas/no-such-saga");
        await Expect(explorer.Page.Locator("[role=alert]")).ToContainTextAsync("There is no saga “no-such-saga”");
    });

    private async Task WithExplorerAsync(string name, Func<BrowserPage, Task> scenario)
    {
        await using var explorer = await browser.OpenExplorerAsync(system.Client("orchestrator").BaseAddress!.ToString());
        await explorer.RunAsync(name, scenario);
    }
}
