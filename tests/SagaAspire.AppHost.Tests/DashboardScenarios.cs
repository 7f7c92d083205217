using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SagaAspire.Scenarios;
using static Microsoft.Playwright.Assertions;

namespace SagaAspire.AppHost.Tests;

/// <summary>
/// The Aspire dashboard in a real headless Chromium, on the system the AppHost runs.
/// Screenshots go to artifacts/test-results/dashboard.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class the_dashboard(AppHostFixture system, HeadlessBrowser browser) : IClassFixture<HeadlessBrowser>
{
    private static readonly string[] Resources = ["kafka", "postgres", "orders-db", "orchestrator-db", "inventory-db", "payment-db", "delivery-db", "order", "orchestrator", "inventory", "payment", "delivery"];

    [Fact]
    public async Task shows_every_resource_running_and_healthy()
    {
        await using var dashboard = await OpenDashboardAsync("/");
        await RunOnDashboardAsync(dashboard, "resources", async tab =>
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
    public async Task draws_a_declined_sagas_trace_with_its_compensation()
    {
        var accepted = await system.Saga.PlaceAsync(SagaClient.Order("ABC", quantity: 2, customerId: "declined-dashboard"));
        (await system.Saga.WaitForOutcomeAsync(accepted.GetProperty("orderId").GetString()!)).GetProperty("status").GetString().ShouldBe("Rejected");
        var traceId = accepted.GetProperty("traceId").GetString()!;
        var spans = await system.Dashboard.WaitForTraceAsync(traceId, s => s.Service == "order" && s.Name == "process orchestrator.events");

        await using var dashboard = await OpenDashboardAsync($"/traces/detail/{traceId}", height: 1400);
        await RunOnDashboardAsync(dashboard, "declined-trace", async tab =>
        {
            var page = tab.Page;
            await Expect(page.GetByText("POST /orders/").First).ToBeVisibleAsync();
            await Expect(page.GetByText("Total spans").Locator("..")).ToContainTextAsync(new Regex($@"Total spans\s*{spans.Count}\b"));
            // The dashboard names a messaging span after its system and destination: the reservation
            // and the release each have a publish and a process span on inventory.commands.
            await Expect(page.GetByText("MSG kafka inventory.commands", new() { Exact = true })).ToHaveCountAsync(4);
            await Expect(page.GetByText("MSG kafka payments.commands", new() { Exact = true })).ToHaveCountAsync(2);
            await tab.ScreenshotAsync("declined-trace", fullPage: false);
        });
    }

    /// <summary>
    /// Runs <paramref name="scenario"/> on the dashboard's page. Now and then the dashboard's own
    /// Blazor circuit fails on a page (its "An unhandled error has occurred" strip, and a page with
    /// no rows); a user reloads it, and so does this, once, keeping a screenshot of the failed page
    /// (&lt;name&gt;-circuit-error). A failure without that strip, or a second one, fails the test.
    /// </summary>
    private static async Task RunOnDashboardAsync(BrowserPage dashboard, string name, Func<BrowserPage, Task> scenario)
    {
        try
        {
            await scenario(dashboard);
            dashboard.ScriptErrors.ShouldBeEmpty("the page raised no script errors");
            return;
        }
        catch
        {
            var circuitFailed = await dashboard.Page.Locator("#blazor-error-ui").IsVisibleAsync();
            await dashboard.ScreenshotAsync(name + (circuitFailed ? "-circuit-error" : "-failed"));
            if (!circuitFailed) throw;
        }
        await dashboard.Page.ReloadAsync();
        await dashboard.RunAsync(name, scenario);
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
