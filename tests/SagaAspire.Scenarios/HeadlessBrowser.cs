using Microsoft.Playwright;

namespace SagaAspire.Scenarios;

/// <summary>
/// Debian's Chromium, headless, driven by Playwright; never a browser Playwright downloads itself.
/// Screenshots go beside the test results, in artifacts/test-results/&lt;folder&gt;.
/// </summary>
public sealed class HeadlessBrowser : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotRoot { get; } = Path.Combine(Repository.Root, "artifacts", "test-results");

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
    }

    /// <summary>A fresh page at <paramref name="baseUrl"/>, recording the page's script errors, its screenshots in <paramref name="screenshots"/>.</summary>
    public async Task<BrowserPage> OpenAsync(string baseUrl, string screenshots, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(30_000);
        var folder = Path.Combine(ScreenshotRoot, screenshots);
        Directory.CreateDirectory(folder);
        return new BrowserPage(context, await context.NewPageAsync(), folder);
    }

    /// <summary>The Saga Explorer of the orchestrator at <paramref name="orchestrator"/>, once its live updates are connected.</summary>
    public async Task<BrowserPage> OpenExplorerAsync(string orchestrator)
    {
        var explorer = await OpenAsync(orchestrator, "explorer");
        await explorer.Page.GotoAsync("/explorer/");
        await Assertions.Expect(explorer.Page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
        return explorer;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>One tab: the page, its script errors, and screenshots named after the scenario.</summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly string _screenshots;
    private readonly List<string> _scriptErrors = [];

    public BrowserPage(IBrowserContext context, IPage page, string screenshots)
    {
        _context = context;
        _screenshots = screenshots;
        Page = page;
        page.PageError += (_, error) => _scriptErrors.Add(error);
    }

    public IPage Page { get; }

    /// <summary>Uncaught script errors the page raised so far.</summary>
    public IReadOnlyList<string> ScriptErrors => _scriptErrors;

    public string ScreenshotPath(string name) => Path.Combine(_screenshots, name + ".png");

    public Task ScreenshotAsync(string name, bool fullPage = true) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath(name), FullPage = fullPage });

    /// <summary>Runs <paramref name="scenario"/>, saving a screenshot named <paramref name="name"/>-failed when it fails; no script error may have been raised.</summary>
    public async Task RunAsync(string name, Func<BrowserPage, Task> scenario)
    {
        try
        {
            await scenario(this);
        }
        catch
        {
            await ScreenshotAsync(name + "-failed");
            throw;
        }
        ScriptErrors.ShouldBeEmpty("the page raised no script errors");
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
