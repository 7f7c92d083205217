namespace SagaAspire.Embedded.Server;

/// <summary>
/// A PostgreSQL server as a process: the machine's server binaries on the port its host chose,
/// with the server's own log on standard output. SIGTERM (how a host stops a process) becomes a
/// fast shutdown: PostgreSQL's own answer to SIGTERM waits for every client to disconnect.
/// </summary>
internal static class PostgresServer
{
    /// <summary>
    /// Set once a stop is asked for: from then on nothing more is written to standard output. A
    /// host that is stopping a process may stop reading its output (DCP does); a write to the full
    /// pipe would block, the server's log lines would back up behind it, and the server could not
    /// exit (a stop took 4 s instead of under one, and longer under load).
    /// </summary>
    private static volatile bool _stopping;

    public static async Task<int> RunAsync(ServerArguments arguments)
    {
        var port = arguments.RequiredPort("--port", "POSTGRES_PORT", arguments.Port);
        using var stop = new CancellationTokenSource();
        void Stop(System.Runtime.InteropServices.PosixSignalContext context)
        {
            context.Cancel = true;
            _stopping = true;
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
        await server.StopAsync(CancellationToken.None); // a fast shutdown
        return 0;
    }

    private static void Say(string line)
    {
        if (!_stopping) Console.Out.WriteLine(line);
    }
}
