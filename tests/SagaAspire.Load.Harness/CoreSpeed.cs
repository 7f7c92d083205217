using System.Runtime.InteropServices;

namespace SagaAspire.Load;

/// <summary>
/// How fast one core runs a fixed piece of arithmetic, in nanoseconds of the thread's own CPU
/// time (so waiting for a core does not count; a core slowed by a busy sibling hyperthread or a
/// lower clock does). Taken at the start and the end of the steady window: two runs of one code
/// whose CPU per saga differs while this figure does not were not slowed by the host.
/// </summary>
internal static partial class CoreSpeed
{
    private const int Iterations = 2_000_000;
    private const int Attempts = 5;

    /// <summary>The best of a few timings of the arithmetic, in nanoseconds per iteration; null off Linux.</summary>
    public static double? Measure()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var best = double.MaxValue;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var start = ThreadCpuNanoseconds();
            Sink = Work(Iterations + attempt); // a different count each time, so nothing is folded away
            var used = ThreadCpuNanoseconds() - start;
            best = Math.Min(best, (double)used / Iterations);
        }
        return best;
    }

    // Read by nobody: keeps the result alive so the work is not optimised away.
    private static ulong Sink { get; set; }

    private static ulong Work(int iterations)
    {
        // A chain of dependent multiplies and shifts (xorshift*): one core's integer pipeline, no memory.
        var x = 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < iterations; i++)
        {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x *= 0x2545F4914F6CDD1DUL;
        }
        return x;
    }

    private static long ThreadCpuNanoseconds()
    {
        const int ThreadCpuTimeClock = 3; // CLOCK_THREAD_CPUTIME_ID
        if (clock_gettime(ThreadCpuTimeClock, out var time) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return time.Seconds * 1_000_000_000 + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int clock_gettime(int clock, out TimeSpec time);
}
