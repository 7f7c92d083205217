using Npgsql;
using SagaAspire.Embedded;

namespace SagaAspire.Embedded.Tests;

public sealed class embedded_postgres
{
    [Fact]
    public async Task accepts_connections_and_creates_databases()
    {
        await using var server = await EmbeddedPostgres.StartAsync();
        await server.CreateDatabaseAsync("orders");
        await server.CreateDatabaseAsync("orders"); // a second time is harmless

        await using var connection = new NpgsqlConnection(server.ConnectionString("orders"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_database(), current_user", connection);
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        reader.GetString(0).ShouldBe("orders");
        reader.GetString(1).ShouldBe(EmbeddedPostgres.Superuser);
    }

    [Fact]
    public async Task keeps_its_data_across_a_stop_and_start_of_a_persistent_directory()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"sagaaspire-persist-{Guid.NewGuid():N}");
        try
        {
            await using (var first = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = directory }))
            {
                await using var connection = new NpgsqlConnection(first.ConnectionString());
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')", connection);
                await command.ExecuteNonQueryAsync();
            }
            File.Exists(Path.Combine(directory, "PG_VERSION")).ShouldBeTrue("a persistent directory outlives the server");

            await using var second = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = directory });
            await using var reopened = new NpgsqlConnection(second.ConnectionString());
            await reopened.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT value FROM kept", reopened);
            (await read.ExecuteScalarAsync()).ShouldBe("still here");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task refuses_connections_once_stopped_and_serves_again_after_a_restart()
    {
        await using var server = await EmbeddedPostgres.StartAsync();
        await server.StopAsync();
        server.IsRunning.ShouldBeFalse();
        await using (var refused = new NpgsqlConnection(server.ConnectionString() + ";Pooling=false;Timeout=2"))
            await Should.ThrowAsync<NpgsqlException>(() => refused.OpenAsync());

        await server.RestartAsync();
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        connection.State.ShouldBe(System.Data.ConnectionState.Open);
    }

    [Fact]
    public async Task a_temporary_directory_is_removed_on_dispose()
    {
        string directory;
        await using (var server = await EmbeddedPostgres.StartAsync())
            directory = server.DataDirectory;
        Directory.Exists(directory).ShouldBeFalse();
    }

    [Fact]
    public void missing_binaries_name_the_alternatives()
    {
        var error = Should.Throw<EmbeddedInfrastructureException>(() => EmbeddedPostgres.FindBinaries("/nonexistent"));
        error.Message.ShouldContain("not found in /nonexistent", customMessage: "a folder given is the only one searched, and named");
        error.Message.ShouldContain("install the PostgreSQL server");
        error.Message.ShouldContain("SagaAspire:Infrastructure=existing");
        error.Message.ShouldContain("SagaAspire:Infrastructure=containers");
    }
}
