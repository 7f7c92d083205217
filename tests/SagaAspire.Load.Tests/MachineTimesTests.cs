namespace SagaAspire.Load.Tests;

/// <summary>The load report's machine figures come from the first line of /proc/stat.</summary>
public sealed class MachineTimesTests
{
    [Fact]
    public void the_cores_sum_splits_into_busy_idle_and_stolen_seconds()
    {
        const string Stat = "cpu  2600584 18438 931785 7953074 39463 0 114979 18537 0 0\ncpu0 1272793 8015 441963 4052584 10707 0 45031 9009 0 0\n";

        var times = ProcFs.ParseMachine(Stat).ShouldNotBeNull();

        times.Busy.ShouldBe((2600584 + 18438 + 931785 + 0 + 114979) / 100.0, 1e-6, "user, nice, system, irq and softirq");
        times.Idle.ShouldBe((7953074 + 39463) / 100.0, 1e-6, "idle and iowait");
        times.Stolen.ShouldBe(185.37, 1e-6);
        times.Total.ShouldBe(times.Busy + times.Idle + times.Stolen);
    }

    [Fact]
    public void an_older_kernel_without_a_steal_column_steals_nothing() =>
        ProcFs.ParseMachine("cpu  10 0 5 100 1 0 0\n").ShouldNotBeNull().Stolen.ShouldBe(0);

    [Fact]
    public void a_first_line_that_is_not_the_cores_sum_is_not_read() =>
        ProcFs.ParseMachine("cpu0 1 2 3 4\n").ShouldBeNull();
}

/// <summary>The core-speed probe reads the thread's own CPU clock.</summary>
public sealed class CoreSpeedTests
{
    [Fact]
    public void each_piece_of_work_takes_some_cpu_time_per_step()
    {
        var timings = CoreSpeed.Measure().ShouldNotBeNull();
        foreach (var nanoseconds in new[] { timings.ArithmeticNanoseconds, timings.MemoryNanoseconds })
        {
            double.IsFinite(nanoseconds).ShouldBeTrue();
            nanoseconds.ShouldBeGreaterThan(0, "every step takes time on any core");
        }
    }
}
