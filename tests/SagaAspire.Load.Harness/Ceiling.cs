using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using SagaAspire.Embedded;

namespace SagaAspire.Load;

/// <summary>The ceiling reference of a run: pgbench -N on the same PostgreSQL server, in a scratch database.</summary>
public sealed record CeilingResult(double Tps, int Clients, double Seconds, string Command);

/// <summary>
/// Runs pgbench's simple-update transaction (<c>-N</c>: the TPC-B-like transaction without the
/// updates of the small, contended branch and teller tables; one update, one select, one insert
/// and a durable commit) against the system's own PostgreSQL server, in a scratch database
/// <c>pgbench_ceiling</c>. Every durable step of a saga is a commit on that server, so its TPS is
/// the reference the saga rate is compared with.
/// </summary>
public static partial class Ceiling
{
    public const string Database = "pgbench_ceiling";

    public static async Task<CeilingResult> MeasureAsync(NpgsqlConnectionStringBuilder server, TimeSpan duration, int clients, Action<string> log, CancellationToken cancellationToken)
    {
        await EmbeddedPostgres.CreateDatabaseAsync(server.ConnectionString, Database, cancellationToken);
        var connection = new[] { "-h", server.Host!, "-p", server.Port.ToString(CultureInfo.InvariantCulture), "-U", server.Username ?? "postgres" };
        log("ceiling: pgbench -i (scratch database " + Database + ")");
        await RunAsync(server, [.. connection, "-i", "-q", Database], cancellationToken);
        string[] bench = [.. connection, "-N", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T",
            ((int)Math.Ceiling(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture), Database];
        log($"ceiling: pgbench -N -c {clients} -j 2 -T {duration.TotalSeconds:0}");
        var output = await RunAsync(server, bench, cancellationToken);
        var match = TpsLine().Match(output);
        if (!match.Success) throw new InvalidOperationException("pgbench printed no tps line:\n" + output);
        return new CeilingResult(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), clients, duration.TotalSeconds,
            "pgbench " + string.Join(' ', bench.Where((_, i) => i >= 6)));
    }

    private static async Task<string> RunAsync(NpgsqlConnectionStringBuilder server, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Executable(), arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (!string.IsNullOrEmpty(server.Password)) start.Environment["PGPASSWORD"] = server.Password;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("pgbench did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var text = await stdout + await stderr;
        if (process.ExitCode != 0) throw new InvalidOperationException($"pgbench failed (exit {process.ExitCode}):\n{text}");
        return text;
    }

    private static string Executable()
    {
        string[] candidates = ["/usr/bin/pgbench", "/usr/lib/postgresql/15/bin/pgbench", "/usr/local/bin/pgbench"];
        return candidates.FirstOrDefault(File.Exists) ?? "pgbench";
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();
}
