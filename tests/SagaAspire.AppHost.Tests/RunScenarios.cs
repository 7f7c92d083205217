using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using SagaAspire.Scenarios;

namespace SagaAspire.AppHost.Tests;

/// <summary>The AppHost as ./build.sh run starts it: what it prints, how it starts the services, and that SIGTERM stops all it started.</summary>
public sealed class the_apphost_run_by_hand
{
    [Fact]
    public async Task prints_where_everything_is_takes_an_order_and_leaves_nothing_running_after_sigterm()
    {
        using var apphost = AppHostProcess.Start(["--SagaAspire:Infrastructure=embedded", "--SagaAspire:PersistData=false", "--SagaAspire:BasePort=0"]);
        await apphost.WaitForOutputAsync("Press Ctrl+C to stop.", TimeSpan.FromMinutes(3));

        var output = apphost.Output;
        output.ShouldContain("Infrastructure: embedded (SagaAspire:Infrastructure=embedded).");
        output.ShouldContain("SagaAspire is running.");
        Listed(output, "Aspire dashboard").ShouldContain("/login?t=");
        Listed(output, "Saga Explorer").ShouldEndWith("/explorer/");
        foreach (var (label, path) in new[] { ("inventory", "/inventory"), ("payment", "/payments"), ("delivery", "/deliveries") })
            Listed(output, label).ShouldEndWith(path);
        var orders = Listed(output, "order API");
        using (var http = new HttpClient())
        {
            using var placed = await http.PostAsJsonAsync(orders, SagaClient.Order("ABC", customerId: "c-by-hand"));
            ((int)placed.StatusCode).ShouldBe(202, await placed.Content.ReadAsStringAsync());
            var orderId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetString();
            (await (await http.GetAsync(Listed(output, "Saga Explorer"))).Content.ReadAsStringAsync()).ShouldContain("Saga Explorer");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            string? status;
            do
            {
                await Task.Delay(250);
                status = (await http.GetFromJsonAsync<JsonElement>($"{orders}/{orderId}")).GetProperty("status").GetString();
            } while (status == "Pending" && DateTime.UtcNow < deadline);
            status.ShouldBe("Approved");
            var deliveries = await http.GetFromJsonAsync<JsonElement>(Listed(output, "delivery"));
            deliveries.EnumerateArray().Select(d => (d.GetProperty("orderId").GetString(), d.GetProperty("status").GetString()))
                .ShouldBe([(orderId, "scheduled")], "the delivery service the summary lists booked the one order's delivery");
        }

        var started = StartedBy(apphost.Process.Id);
        started.Count.ShouldBeGreaterThanOrEqualTo(9, "DCP, the dashboard, the broker, PostgreSQL and the five services");
        string[] executables = ["SagaAspire.Order", "SagaAspire.Orchestrator", "SagaAspire.Inventory", "SagaAspire.Payment", "SagaAspire.Delivery"];
        var services = started.Where(pid => executables.Contains(Path.GetFileName(CommandLine(pid).Split(' ')[0]))).ToList();
        services.Count.ShouldBe(5, string.Join("\n", started.Select(Describe)));
        foreach (var pid in services)
            EnvironmentOf(pid).ShouldContain("OTEL_METRIC_EXPORT_INTERVAL=5000", $"metrics every 5 s, not Aspire's every second: {Describe(pid)}");
        SagaAspire.Embedded.ChildProcesses.Signal(apphost.Process, SagaAspire.Embedded.ChildProcesses.SigTerm);
        (await apphost.WaitForExitAsync(TimeSpan.FromSeconds(60))).ShouldBe(0, apphost.Output);

        var stopDeadline = DateTime.UtcNow.AddSeconds(90);
        while (started.Any(Alive) && DateTime.UtcNow < stopDeadline) await Task.Delay(250);
        started.Where(Alive).Select(Describe).ShouldBeEmpty("everything the AppHost started has stopped");
    }

    /// <summary>The address the start-up summary gives for <paramref name="label"/>.</summary>
    private static string Listed(string output, string label) =>
        Regex.Match(output, $@"^\s+{Regex.Escape(label)}\s+(\S+)", RegexOptions.Multiline) is { Success: true } match
            ? match.Groups[1].Value
            : throw new ShouldAssertException($"The summary lists no '{label}':\n{output}");

    /// <summary>DCP, which watches the AppHost (--monitor pid), and every process below it.</summary>
    private static List<int> StartedBy(int apphost)
    {
        var processes = Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
            .Where(pid => pid > 0)
            .Select(pid => (Pid: pid, Parent: ParentOf(pid), CommandLine: CommandLine(pid)))
            .Where(p => p.Parent is not null)
            .ToList();
        var found = processes.Where(p => p.CommandLine.Contains($"--monitor {apphost}", StringComparison.Ordinal)).Select(p => p.Pid).ToList();
        for (var i = 0; i < found.Count; i++)
            found.AddRange(processes.Where(p => p.Parent == found[i] && !found.Contains(p.Pid)).Select(p => p.Pid));
        return found;
    }

    private static bool Alive(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat") is var stat && stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string Describe(int pid) => $"{pid}: {CommandLine(pid)}";

    private static int? ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string[] EnvironmentOf(int pid) => File.ReadAllText($"/proc/{pid}/environ").Split('\0');

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }
}
