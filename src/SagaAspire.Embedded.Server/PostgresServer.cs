namespace SagaAspire.Embedded.Server;

/// <summary>
/// A PostgreSQL server as a process: the machine's server binaries on the port its host chose,
/// with the server's own log on standard output. SIGTERM (how a host stops a process) becomes a
/// fast shutdown: PostgreSQL's own answer to SIGTERM waits for every client to disconnect.
/// </summary>
internal static class PostgresServer
{
    public static async Task<int> RunAsync(ServerArguments arguments)
    {
        var port = arguments.RequiredPort("--port", "POSTGRES_PORT", arguments.Port);
        using var stop = new CancellationTokenSource();
        void Stop(System.Runtime.InteropServices.PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
        using var onTerminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
        using var onInterrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);

        var binaries = EmbeddedPostgres.FindBinaries();
        var temporary = arguments.DataDirectory is null || arguments.Temporary;
        Say($"PostgreSQL from {binaries} on 127.0.0.1:{port}, data in {arguments.DataDirectory ?? "a temporary folder"}{(temporary ? " (removed at exit)" : "")}");
        await using var server = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
        {
            DataDirectory = arguments.DataDirectory,
            RemoveDataOnDispose = arguments.Temporary,
            Port = port,
            BinDirectory = binaries,
            Output = Say,
        }, stop.Token);
        Say($"PostgreSQL accepts connections on 127.0.0.1:{port} (user {EmbeddedPostgres.Superuser}, trust authentication on loopback only)");

        var exited = server.WaitForExitAsync(CancellationToken.None);
        if (await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default)) == exited)
        {
            Say($"PostgreSQL exited on its own (exit code {await exited})");
            return 1;
        }
        Say("Stopping PostgreSQL (fast shutdown) ...");
        await server.StopAsync(CancellationToken.None);
        Say("PostgreSQL stopped");
        return 0;
    }

    private static void Say(string line) => Console.Out.WriteLine(line);
}
