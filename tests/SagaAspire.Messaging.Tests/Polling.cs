namespace SagaAspire.Messaging.Tests;

internal static class Polling
{
    /// <summary>Waits for <paramref name="condition"/>, failing the test when it does not hold within 20 s.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
        condition().ShouldBeTrue($"{what} within 20 s");
    }
}
