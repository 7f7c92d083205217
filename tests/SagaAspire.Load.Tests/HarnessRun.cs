
namespace SagaAspire.Load.Tests;

/// <summary>
/// One load run through the same harness as the load tool, shared by a test class: the whole
/// system through the AppHost, the run with its faults, then every invariant. No figure is judged: the
/// bounds are there only so that a broken system fails instead of hanging.
/// </summary>
public abstract class HarnessRun(LoadSettings settings, IReadOnlyDictionary<string, string?> serviceSettings) : IAsyncLifetime
{
    public SystemUnderTest System { get; private set; } = null!;
    public LoadReport Report { get; private set; } = null!;
    public List<string> Log { get; } = [];

    public async Task InitializeAsync()
    {
        System = await SystemUnderTest.StartAsync(new AppHostSystemOptions { Settings = new Dictionary<string, string?>(serviceSettings) }, Remember);
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        Report = await LoadRun.ExecuteAsync(System, settings, Remember, cancellationToken: bound.Token);
        Remember(Report.Summary());
    }

    private void Remember(string line)
    {
        lock (Log) Log.Add(line);
    }

    public async Task DisposeAsync()
    {
        if (System is not null) await System.DisposeAsync();
    }
}

/// <summary>What every harness run must show, whatever its faults: each order accepted and final, every invariant held.</summary>
public abstract class a_harness_run<TRun>(TRun run) where TRun : HarnessRun
{
    protected TRun Run { get; } = run;

    protected string Log => string.Join('\n', Run.Log);

    [Fact]
    public void every_order_is_accepted_and_every_saga_reaches_its_final_state()
    {
        Run.Report.NotAccepted.ShouldBe(0, Log);
        Run.Report.Recovered.ShouldBeTrue(Log);
        Run.Report.Final.ShouldBe(Run.Report.Accepted, Log);
    }

    [Fact]
    public void every_invariant_holds()
    {
        foreach (var invariant in Run.Report.Invariants.Where(i => !i.IsExpectation))
            invariant.Passed.ShouldBeTrue($"{invariant.Name}: {invariant.Detail}\n{string.Join('\n', invariant.Offenders)}\n\n{Log}");
        Run.Report.InvariantsHold.ShouldBeTrue(Log);
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("stock conserved");
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("every outbox drained");
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("every refund belongs to a rejected order");
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("every approved order has exactly one scheduled delivery");
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("no rejected order keeps a scheduled delivery");
        Run.Report.Invariants.Select(i => i.Name).ShouldContain("every delivery slot's bookings are its scheduled deliveries");
    }
}
