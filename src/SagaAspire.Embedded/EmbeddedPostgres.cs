using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace SagaAspire.Embedded;

/// <summary>Where and how to run the embedded PostgreSQL server.</summary>
public sealed record EmbeddedPostgresOptions
{
    /// <summary>Data directory; created and initialised when empty. Null: a temporary directory removed on dispose.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Remove <see cref="DataDirectory"/> on dispose, as a directory of our own choosing always is.</summary>
    public bool RemoveDataOnDispose { get; init; }

    /// <summary>TCP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Folder holding initdb and postgres; null searches PATH and /usr/lib/postgresql/*/bin.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Receives each line the server writes (its log), besides the recent lines kept for error messages.</summary>
    public Action<string>? Output { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// A real PostgreSQL server started from the machine's binaries on a loopback port, owned by this
/// process: it stops on <see cref="DisposeAsync"/> and, should this process die, on its own.
/// PostgreSQL refuses to run as root, so a root process runs it as the <c>postgres</c> user.
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    public const string Superuser = "postgres";
    private const string ServiceUser = "postgres";

    private readonly EmbeddedPostgresOptions _options;
    private readonly string _binDirectory;
    private readonly bool _temporary;
    private readonly StringBuilder _log = new();
    private Process? _server;

    private EmbeddedPostgres(EmbeddedPostgresOptions options, string binDirectory, string dataDirectory, bool temporary)
    {
        _options = options;
        _binDirectory = binDirectory;
        DataDirectory = dataDirectory;
        _temporary = temporary;
    }

    public string DataDirectory { get; }
    public int Port { get; private set; }
    public string Host => "127.0.0.1";
    public bool IsRunning => _server is { HasExited: false };

    /// <summary>Connection string for <paramref name="database"/> as the superuser (trust authentication on loopback).</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = Host, Port = Port, Database = database, Username = Superuser, Pooling = true,
    }.ConnectionString;

    public static async Task<EmbeddedPostgres> StartAsync(EmbeddedPostgresOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new EmbeddedPostgresOptions();
        var bin = FindBinaries(options.BinDirectory);
        var temporary = options.DataDirectory is null || options.RemoveDataOnDispose;
        var dataDirectory = Path.GetFullPath(options.DataDirectory ?? Path.Combine(Path.GetTempPath(), $"sagaaspire-pg-{Guid.NewGuid():N}"));
        var server = new EmbeddedPostgres(options, bin, dataDirectory, temporary);
        try
        {
            await server.InitialiseAsync(cancellationToken).ConfigureAwait(false);
            await server.StartServerAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates <paramref name="database"/> unless it exists.</summary>
    public Task CreateDatabaseAsync(string database, CancellationToken cancellationToken = default) =>
        CreateDatabaseAsync(ConnectionString(), database, cancellationToken);

    /// <summary>Creates <paramref name="database"/> on the server <paramref name="serverConnectionString"/> reaches, unless it exists.</summary>
    public static async Task CreateDatabaseAsync(string serverConnectionString, string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null) return;
        var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Created concurrently: what we wanted.
        }
    }

    /// <summary>Stops the server with a fast shutdown (open sessions are ended, data is flushed).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_server is null) return;
        var server = _server;
        _server = null;
        ChildProcesses.Signal(server, ChildProcesses.SigInt);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await server.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            server.Kill(entireProcessTree: true);
        }
        server.Dispose();
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Completes when the server process ends, whoever ended it; its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        var server = _server ?? throw new InvalidOperationException("The server is not running.");
        await server.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return server.ExitCode;
    }

    /// <summary>Starts the server again on the same data directory and port (after <see cref="StopAsync"/>).</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => StartServerAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_temporary && Directory.Exists(DataDirectory))
        {
            try { Directory.Delete(DataDirectory, recursive: true); }
            catch (IOException) { /* a leftover temp folder is harmless; the server is already gone */ }
        }
    }

    /// <summary>The server's recent output, for error messages.</summary>
    public string RecentLog()
    {
        lock (_log) return _log.ToString();
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        if (File.Exists(Path.Combine(DataDirectory, "PG_VERSION"))) return;
        if (Directory.EnumerateFileSystemEntries(DataDirectory).Any())
            throw new InvalidOperationException($"The PostgreSQL data directory {DataDirectory} is not empty and holds no database cluster. Choose an empty folder or remove it.");
        GiveToServiceUser(DataDirectory);
        var initdb = await ChildProcesses.StartAsync(Path.Combine(_binDirectory, "initdb"),
            ["-D", DataDirectory, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync"],
            RunAsUser).ConfigureAwait(false);
        // Both pipes at once: reading one to its end first can deadlock on the other.
        var stdout = initdb.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = initdb.StandardError.ReadToEndAsync(cancellationToken);
        await initdb.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        if (initdb.ExitCode != 0)
            throw new InvalidOperationException($"initdb failed for {DataDirectory} (exit {initdb.ExitCode}):\n{output}");
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        if (IsRunning) return;
        Port = Port != 0 ? Port : _options.Port != 0 ? _options.Port : LoopbackPorts.Free();
        var server = await ChildProcesses.StartAsync(Path.Combine(_binDirectory, "postgres"),
            [
                "-D", DataDirectory, "-p", Port.ToString(CultureInfo.InvariantCulture),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=300", "-c", "shared_buffers=256MB",
                "-c", "logging_collector=off", "-c", "log_min_messages=warning",
            ],
            RunAsUser, deathSignal: "INT").ConfigureAwait(false);
        _server = server;
        server.OutputDataReceived += (_, e) => Remember(e.Data);
        server.ErrorDataReceived += (_, e) => Remember(e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        await WaitUntilAcceptingAsync(server, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the server of <paramref name="dataDirectory"/> says it accepts connections: the status
    /// line of its postmaster.pid, which is what <c>pg_ctl -w</c> waits for. Asking by connecting
    /// instead makes a starting server log "FATAL: the database system is starting up" each time.
    /// </summary>
    public static bool IsReady(string dataDirectory) =>
        PidFile(dataDirectory) is { Length: > 7 } lines && lines[7].Trim() == "ready";

    /// <summary>The process id of the server of <paramref name="dataDirectory"/> (the postmaster), from its postmaster.pid; null when there is none.</summary>
    public static int? ServerProcessId(string dataDirectory) =>
        PidFile(dataDirectory) is { Length: > 0 } lines && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;

    /// <summary>The lines of the server's postmaster.pid; null when the server is not started, or just gone.</summary>
    private static string[]? PidFile(string dataDirectory)
    {
        try
        {
            return File.ReadAllLines(Path.Combine(dataDirectory, "postmaster.pid"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private async Task WaitUntilAcceptingAsync(Process server, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString()) { Pooling = false, Timeout = 2 };
        while (true)
        {
            if (server.HasExited)
                throw new InvalidOperationException($"PostgreSQL exited during start-up (exit {server.ExitCode}) on port {Port}:\n{RecentLog()}");
            if (!IsReady(DataDirectory) && deadline.Elapsed < _options.StartTimeout)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (deadline.Elapsed < _options.StartTimeout)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        _options.Output?.Invoke(line);
        lock (_log)
        {
            if (_log.Length > 16_384) _log.Remove(0, _log.Length - 8_192);
            _log.AppendLine(line);
        }
    }

    private static string? RunAsUser => ChildProcesses.IsRoot ? ServiceUser : null;

    private static void GiveToServiceUser(string directory)
    {
        if (!ChildProcesses.IsRoot) return;
        using var chown = Process.Start("chown", ["-R", $"{ServiceUser}:{ServiceUser}", directory]);
        chown.WaitForExit();
        if (chown.ExitCode != 0)
            throw new InvalidOperationException($"Could not hand {directory} to the '{ServiceUser}' user, which PostgreSQL needs when this process runs as root. Does that user exist?");
    }

    /// <summary>
    /// The folder holding the server binaries: <paramref name="binDirectory"/> alone when given,
    /// else the first of PATH and /usr/lib/postgresql/*/bin (newest version first) that has them.
    /// </summary>
    /// <exception cref="EmbeddedInfrastructureException">No such folder; the message says what to do.</exception>
    public static string FindBinaries(string? binDirectory = null) => FindBinaries(binDirectory, searchMachine: binDirectory is null);

    internal static string FindBinaries(string? configured, bool searchMachine)
    {
        var candidates = new List<string>();
        if (configured is not null) candidates.Add(configured);
        if (searchMachine)
            candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        if (searchMachine && Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(VersionOf).Select(d => Path.Combine(d, "bin")));
        foreach (var directory in candidates)
        {
            var postgres = Path.Combine(directory, "postgres");
            if (File.Exists(postgres) && File.Exists(Path.Combine(directory, "initdb")))
                return Path.GetDirectoryName(ResolveLink(postgres))!;
        }
        var searched = searchMachine ? "on PATH or under /usr/lib/postgresql" : $"in {configured}";
        throw new EmbeddedInfrastructureException(
            $"PostgreSQL server binaries (initdb, postgres) were not found {searched}. Either " +
            "install the PostgreSQL server (for example 'apt-get install postgresql', or run ./build.sh, which does it), " +
            "use an existing PostgreSQL server (SagaAspire:Infrastructure=existing with ConnectionStrings:postgres), " +
            "or run PostgreSQL in a container (SagaAspire:Infrastructure=containers, on a machine with Docker or Podman).");
    }

    private static int VersionOf(string directory) =>
        int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : 0;

    private static string ResolveLink(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
}

/// <summary>The embedded infrastructure cannot start on this machine; the message says what to do.</summary>
public sealed class EmbeddedInfrastructureException(string message) : Exception(message);
