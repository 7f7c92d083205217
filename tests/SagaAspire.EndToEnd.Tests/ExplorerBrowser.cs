using Microsoft.Playwright;
using SagaAspire.DevHost;

namespace SagaAspire.EndToEnd.Tests;

/// <summary>
/// Debian's Chromium, headless, driven by Playwright; never a browser Playwright downloads itself.
/// Screenshots go beside the test results, in artifacts/test-results/explorer.
/// </summary>
public sealed class ExplorerBrowser : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory { get; } = Path.Combine(SagaSystem.FindRepositoryRoot(), "artifacts", "test-results", "explorer");

    public async Task InitializeAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("SAGAASPIRE_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
            throw new InvalidOperationException($"The browser tests need Chromium at {chromium}; eng/bootstrap.sh installs it (apt-get install chromium), or set SAGAASPIRE_CHROMIUM.");
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>A fresh page on the Explorer of the orchestrator at <paramref name="orchestrator"/>, recording the page's script errors.</summary>
    public async Task<ExplorerPage> OpenAsync(string orchestrator)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = orchestrator,
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
        });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var explorer = new ExplorerPage(context, page);
        await page.GotoAsync("/explorer/");
        await Assertions.Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
        return explorer;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>One Explorer tab: the page, its script errors, and screenshots named after the scenario.</summary>
public sealed class ExplorerPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _scriptErrors = [];

    public ExplorerPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.PageError += (_, error) => _scriptErrors.Add(error);
    }

    public IPage Page { get; }

    /// <summary>Uncaught script errors the page raised so far.</summary>
    public IReadOnlyList<string> ScriptErrors => _scriptErrors;

    public Task ScreenshotAsync(string name) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ExplorerBrowser.ScreenshotDirectory, name + ".png"), FullPage = true });

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
