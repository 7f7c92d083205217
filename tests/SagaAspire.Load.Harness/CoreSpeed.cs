using System.Runtime.InteropServices;

namespace SagaAspire.Load;

/// <summary>
/// How fast one core runs two fixed pieces of work, in nanoseconds of the thread's own CPU time
/// (so waiting for a core does not count; a core slowed by a busy sibling hyperthread, a lower
/// clock or caches shared with other guests does): a chain of arithmetic (the core alone) and a
/// random walk through 8 MB (the caches and memory it shares). Taken at the start and the end of
/// the steady window: two runs of one code whose CPU per saga differs while these do not were not
/// slowed by the host.
/// </summary>
public sealed record CoreTimings(double ArithmeticNanoseconds, double MemoryNanoseconds);

internal static partial class CoreSpeed
{
    private const int ArithmeticSteps = 2_000_000;
    private const int MemorySteps = 300_000;
    private const int Attempts = 3;

    // A single cycle through 2 Mi slots of 4 bytes (Sattolo's shuffle, a fixed seed): each step
    // reads a slot chosen by the one before, so no prefetcher can guess it.
    private static readonly Lazy<int[]> Ring = new(() =>
    {
        var ring = Enumerable.Range(0, 2 << 20).ToArray();
        var random = new Random(19);
        for (var i = ring.Length - 1; i > 0; i--)
        {
            var j = random.Next(i);
            (ring[i], ring[j]) = (ring[j], ring[i]);
        }
        return ring;
    });

    /// <summary>The best of a few timings of each, in nanoseconds per step; null off Linux.</summary>
    public static CoreTimings? Measure()
    {
        if (!OperatingSystem.IsLinux()) return null;
        return new CoreTimings(Best(ArithmeticSteps, steps => Sink = Arithmetic(steps)), Best(MemorySteps, steps => Sink = Walk(steps)));
    }

    private static double Best(int steps, Action<int> work)
    {
        var best = double.MaxValue;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var start = ThreadCpuNanoseconds();
            work(steps + attempt); // a different count each time, so nothing is folded away
            best = Math.Min(best, (double)(ThreadCpuNanoseconds() - start) / (steps + attempt));
        }
        return best;
    }

    // Read by nobody: keeps the result alive so the work is not optimised away.
    private static ulong Sink { get; set; }

    private static ulong Walk(int steps)
    {
        var ring = Ring.Value;
        var at = 0;
        for (var i = 0; i < steps; i++) at = ring[at];
        return (ulong)at;
    }

    private static ulong Arithmetic(int iterations)
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
