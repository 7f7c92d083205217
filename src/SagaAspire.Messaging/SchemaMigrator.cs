using Microsoft.Extensions.Logging;
using Npgsql;

namespace SagaAspire.Messaging;

/// <summary>One versioned schema change of a component (the messaging tables, or a service's own).</summary>
public sealed record Migration(int Version, string Description, string Sql);

/// <summary>
/// Applies versioned migrations at start-up. All of it happens in one transaction under one
/// transaction-level advisory lock, so replicas that start at the same moment apply each migration
/// exactly once, and a failed migration leaves nothing half-applied.
/// </summary>
public static partial class SchemaMigrator
{
    // An arbitrary constant shared by every SagaAspire service: the lock is per database.
    private const long LockKey = 0x5A6A_A5B1_0000_0001;

    public static async Task ApplyAsync(NpgsqlDataSource dataSource, string component, IReadOnlyList<Migration> migrations,
        ILogger logger, CancellationToken cancellationToken = default)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        if (ordered.Select(m => m.Version).Distinct().Count() != ordered.Count)
            throw new InvalidOperationException($"Migrations of {component} repeat a version number.");

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var exclusive = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction) { Parameters = { new() { Value = LockKey } } })
            await exclusive.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await using (var prepare = new NpgsqlCommand("""
            CREATE SCHEMA IF NOT EXISTS messaging;
            CREATE TABLE IF NOT EXISTS messaging.schema_migrations (
                component   text        NOT NULL,
                version     integer     NOT NULL,
                description text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version)
            );
            COMMENT ON TABLE messaging.schema_migrations IS 'Which versioned schema migrations of each component have been applied.';
            """, connection, transaction))
        {
            await prepare.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var applied = new HashSet<int>();
        await using (var read = new NpgsqlCommand("SELECT version FROM messaging.schema_migrations WHERE component = $1", connection, transaction)
                     { Parameters = { new() { Value = component } } })
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) applied.Add(reader.GetInt32(0));
        }

        foreach (var migration in ordered.Where(m => !applied.Contains(m.Version)))
        {
            await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction))
                await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await using (var record = new NpgsqlCommand(
                "INSERT INTO messaging.schema_migrations (component, version, description) VALUES ($1, $2, $3)", connection, transaction)
                {
                    Parameters = { new() { Value = component }, new() { Value = migration.Version }, new() { Value = migration.Description } },
                })
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            Log.Applied(logger, component, migration.Version, migration.Description);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Applied migration {Component} v{Version}: {Description}")]
        public static partial void Applied(ILogger logger, string component, int version, string description);
    }
}
