using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SagaAspire.Scenarios;
using static Microsoft.Playwright.Assertions;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The Aspire dashboard and the Saga Explorer in a real headless Chromium, on the system the
/// AppHost runs. Screenshots go to artifacts/test-results/dashboard and .../explorer.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class the_dashboard_and_the_saga_explorer(AppHostFixture system, HeadlessBrowser browser) : IClassFixture<HeadlessBrowser>
{
    private static readonly string[] Resources = ["kafka", "postgres", "orders-db", "orchestrator-db", "inventory-db", "payment-db", "order", "orchestrator", "inventory", "payment"];

    [Fact]
    public async Task the_dashboard_shows_every_resource_running_and_healthy()
    {
        await using var dashboard = await OpenDashboardAsync("/");
        await dashboard.RunAsync("resources", async tab =>
        {
            var page = tab.Page;
            // Each row is named after its resource's type and name ("Database: orders-db ...").
            foreach (var resource in Resources)
                await Expect(page.GetByRole(AriaRole.Row, new() { NameRegex = new Regex($@"^\w+: {Regex.Escape(resource)} ") })).ToContainTextAsync("Running");
            await Expect(page.GetByText("Unhealthy")).ToHaveCountAsync(0);
            await Expect(page.GetByText("Starting")).ToHaveCountAsync(0);
            await tab.ScreenshotAsync("resources", fullPage: false);
        });
    }

    [Fact]
    public async Task the_dashboard_draws_a_declined_sagas_trace_with_its_compensation()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", quantity: 2, customerId: "declined-dashboard"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!)).GetProperty("status").GetString().ShouldBe("Rejected");
        var traceId = accepted.GetProperty("traceId").GetString()!;
        var spans = await system.Dashboard.WaitForTraceAsync(traceId, s => s.Service == "order" && s.Name == "process orchestrator.events");

        await using var dashboard = await OpenDashboardAsync($"/traces/detail/{traceId}", height: 1400);
        await dashboard.RunAsync("declined-trace", async tab =>
        {
            var page = tab.Page;
            await Expect(page.GetByText("POST /orders").First).ToBeVisibleAsync();
            await Expect(page.GetByText("Total spans").Locator("..")).ToContainTextAsync(new Regex($@"Total spans\s*{spans.Count}\b"));
            // The dashboard names a messaging span after its system and destination: the reservation
            // and the release each have a publish and a process span on inventory.commands.
            await Expect(page.GetByText("MSG kafka inventory.commands", new() { Exact = true })).ToHaveCountAsync(4);
            await Expect(page.GetByText("MSG kafka payments.commands", new() { Exact = true })).ToHaveCountAsync(2);
            await tab.ScreenshotAsync("declined-trace", fullPage: false);
        });
    }

    [Fact]
    public async Task the_explorer_draws_the_trace_from_the_dashboard_and_links_to_it()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", customerId: "declined-explorer-apphost"));
        var sagaId = accepted.GetProperty("sagaId").GetString()!;
        var traceId = accepted.GetProperty("traceId").GetString()!;

        await using var explorer = await browser.OpenExplorerAsync(system.Client("orchestrator").BaseAddress!.ToString());
        await explorer.RunAsync("declined-saga-apphost", async tab =>
        {
            var page = tab.Page;
            await page.GotoAsync($"/explorer/#/sagas/{sagaId}");
            await Expect(page.Locator("#saga-status")).ToHaveTextAsync("Failed");
            await Expect(page.Locator(".step[data-step='inventory']")).ToHaveAttributeAsync("data-status", "Compensated");
            await Expect(page.Locator(".step[data-step='payment']")).ToHaveAttributeAsync("data-status", "Failed");

            var waterfall = page.Locator("#waterfall");
            await Expect(waterfall.Locator(".row[data-name='POST /orders']")).ToHaveCountAsync(1);
            foreach (var service in AppHostFixture.Services)
                await Expect(waterfall.Locator($".row[data-service='{service}']").First).ToBeVisibleAsync();
            await Expect(waterfall.Locator(".row.compensation[data-service='inventory'][data-name='process inventory.commands']")).ToHaveCountAsync(1);
            await Expect(waterfall.Locator(".row:not(.compensation)[data-service='payment'][data-name='process payments.commands']")).ToHaveCountAsync(1);

            var dashboard = system.DashboardLogin.GetLeftPart(UriPartial.Authority);
            await Expect(page.Locator("#dashboard-link")).ToHaveAttributeAsync("href", $"{dashboard}/traces/detail/{traceId}");
            await tab.ScreenshotAsync("declined-saga-apphost");
        });
    }

    /// <summary>The dashboard at <paramref name="path"/>, logged in with its browser token in one navigation.</summary>
    private async Task<BrowserPage> OpenDashboardAsync(string path, int height = 900)
    {
        var origin = system.DashboardLogin.GetLeftPart(UriPartial.Authority);
        var dashboard = await browser.OpenAsync(origin, "dashboard", width: 1600, height: height);
        await dashboard.Page.GotoAsync($"{system.DashboardLogin.PathAndQuery}&returnUrl={Uri.EscapeDataString(path)}");
        await Expect(dashboard.Page).ToHaveURLAsync(new Regex($"{Regex.Escape(origin + path)}$"));
        return dashboard;
    }
}
