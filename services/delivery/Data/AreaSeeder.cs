using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.Delivery.Domain;

namespace SagaAspire.Delivery.Data;

/// <summary>Writes the configured areas once the schema is in place; days already made keep their capacity.</summary>
internal sealed class AreaSeeder(NpgsqlDataSource dataSource, IOptions<DeliveryOptions> options, ILogger<AreaSeeder> logger) : IHostedService
{
    private readonly TaskCompletionSource _seeded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once the areas are written. The consumer starts before this service does, and on a
    /// first start a waiting schedule must not find no area and refuse the order.
    /// </summary>
    public Task Seeded => _seeded.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var areas = options.Value.Areas;
        // Usually the service was started outside its folder, so appsettings.json was not found.
        if (areas.Count == 0) DeliveryLog.NoAreas(logger);
        await using var upsert = dataSource.CreateCommand("""
            INSERT INTO delivery_areas (country, name, slots_per_day)
            SELECT * FROM unnest($1::text[], $2::text[], $3::integer[])
            ON CONFLICT (country) DO UPDATE SET name = excluded.name, slots_per_day = excluded.slots_per_day
            """);
        upsert.Parameters.Add(new() { Value = areas.Select(a => a.Country).ToArray() });
        upsert.Parameters.Add(new() { Value = areas.Select(a => string.IsNullOrWhiteSpace(a.Name) ? a.Country : a.Name).ToArray() });
        upsert.Parameters.Add(new() { Value = areas.Select(a => a.SlotsPerDay).ToArray() });
        await upsert.ExecuteNonQueryAsync(cancellationToken);
        DeliveryLog.AreasSeeded(logger, areas.Count);
        _seeded.TrySetResult();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
