using System.Globalization;
using Npgsql;

namespace SagaAspire.Load;

/// <summary>
/// The system a run drives: where orders go, the five databases and the broker, and, when the
/// harness started the system itself, the processes and infrastructure it can break.
/// </summary>
public sealed class SystemUnderTest : IAsyncDisposable
{
    /// <summary>Products with stock enough for any run: success and declined orders take them, spread over as many as the run asks.</summary>
    public const int StockedSkuCount = 64;

    public static string StockedSku(int number) => $"LOAD-STOCKED-{number:00}";

    /// <summary>A product with no stock at all: out-of-stock orders ask for it.</summary>
    public const string EmptySku = "LOAD-EMPTY";

    public const int StockedQuantity = 1_000_000_000;

    /// <summary>
    /// The load's own delivery area, where every order meant to be delivered goes: room enough for
    /// any run on every day, so a long run never finds a day full (the served countries of
    /// appsettings.json take a few thousand a day). QL is a user-assigned ISO 3166 code.
    /// </summary>
    public const string DeliveredCountry = "QL";

    public const int DeliveredSlotsPerDay = 1_000_000_000;

    /// <summary>An area served with no slot on any day: every delivery there is refused for want of a free slot (QZ: user-assigned).</summary>
    public const string FullCountry = "QZ";

    /// <summary>A country the delivery service does not serve (Antarctica): every delivery there is refused.</summary>
    public const string UnservedCountry = "AQ";

    private readonly bool _owned;

    private SystemUnderTest(IReadOnlyList<Uri> orderUrls, IReadOnlyDictionary<string, string> databases, string? kafka, AppHostSystem? hosted, bool owned)
    {
        OrderUrls = orderUrls;
        Databases = databases;
        KafkaBootstrapServers = kafka;
        Hosted = hosted;
        _owned = owned;
    }

    public IReadOnlyList<Uri> OrderUrls { get; }

    /// <summary>Connection strings by database name: orders, orchestrator, inventory, payment, delivery.</summary>
    public IReadOnlyDictionary<string, string> Databases { get; }

    public string? KafkaBootstrapServers { get; }

    /// <summary>The system the harness started, with the processes and infrastructure chaos acts on; null for a target.</summary>
    public AppHostSystem? Hosted { get; }

    /// <summary>The dashboard's telemetry API, when the harness started the system with its dashboard.</summary>
    public SagaAspire.Scenarios.DashboardTelemetry? Dashboard => Hosted?.Dashboard;

    /// <summary>The settings every service gets in a harness-started system, beyond the AppHost's own.</summary>
    public static Dictionary<string, string?> ServiceSettings(IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            // The load's own products, after the catalog of appsettings.json.
            ["Inventory__Catalog__100__Sku"] = EmptySku,
            ["Inventory__Catalog__100__Stock"] = "0",
            // The load's delivery areas, after the areas of appsettings.json.
            ["Delivery__Areas__100__Country"] = DeliveredCountry,
            ["Delivery__Areas__100__Name"] = "Load: room on every day",
            ["Delivery__Areas__100__SlotsPerDay"] = DeliveredSlotsPerDay.ToString(CultureInfo.InvariantCulture),
            ["Delivery__Areas__101__Country"] = FullCountry,
            ["Delivery__Areas__101__Name"] = "Load: no slot on any day",
            ["Delivery__Areas__101__SlotsPerDay"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning",
        };
        for (var number = 0; number < StockedSkuCount; number++)
        {
            var index = (101 + number).ToString(CultureInfo.InvariantCulture);
            settings[$"Inventory__Catalog__{index}__Sku"] = StockedSku(number);
            settings[$"Inventory__Catalog__{index}__Stock"] = StockedQuantity.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) settings[key] = value;
        return settings;
    }

    /// <summary>
    /// Starts the whole system through the AppHost, with the load's products in the catalog and its
    /// delivery areas among the areas. The
    /// order service's replicas share one address (Aspire's proxy spreads the connections).
    /// </summary>
    public static async Task<SystemUnderTest> StartAsync(AppHostSystemOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var settings = ServiceSettings(options.Settings);
        var system = await AppHostSystem.StartAsync(options with { Settings = settings }, progress, cancellationToken);
        return new SystemUnderTest([system.OrderUrl], system.DatabaseConnectionStrings, system.KafkaBootstrapServers, system, owned: true);
    }

    /// <summary>
    /// A system running elsewhere: its order API, and optionally its PostgreSQL server (databases
    /// orders, orchestrator, inventory, payment and delivery, as the AppHost names them) and Kafka,
    /// which the invariants and the message faults need. The load's products are added to its
    /// catalog and its delivery areas to its areas (the service's seeder leaves areas it does not
    /// configure alone).
    /// </summary>
    public static async Task<SystemUnderTest> TargetAsync(Uri orderUrl, string postgresConnectionString, string? kafka, CancellationToken cancellationToken = default)
    {
        var databases = AppHostSystem.Services.ToDictionary(s => s.Database,
            s => new NpgsqlConnectionStringBuilder(postgresConnectionString) { Database = s.Database }.ConnectionString);
        await using (var connection = new NpgsqlConnection(databases["inventory"]))
        {
            await connection.OpenAsync(cancellationToken);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO products (sku, name, available) SELECT sku, sku, stock FROM unnest($1::text[], $2::integer[]) AS p(sku, stock) ON CONFLICT (sku) DO NOTHING", connection);
            insert.Parameters.Add(new() { Value = Enumerable.Range(0, StockedSkuCount).Select(StockedSku).Append(EmptySku).ToArray() });
            insert.Parameters.Add(new() { Value = Enumerable.Repeat(StockedQuantity, StockedSkuCount).Append(0).ToArray() });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var connection = new NpgsqlConnection(databases["delivery"]))
        {
            await connection.OpenAsync(cancellationToken);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO delivery_areas (country, name, slots_per_day) VALUES ($1, 'Load: room on every day', $2), ($3, 'Load: no slot on any day', 0) ON CONFLICT (country) DO NOTHING",
                connection);
            insert.Parameters.Add(new() { Value = DeliveredCountry });
            insert.Parameters.Add(new() { Value = DeliveredSlotsPerDay });
            insert.Parameters.Add(new() { Value = FullCountry });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        return new SystemUnderTest([orderUrl], databases, kafka, hosted: null, owned: false);
    }

    /// <summary>The server itself (database postgres), for pgbench and scratch databases.</summary>
    public NpgsqlConnectionStringBuilder Server => new(Databases["orders"]) { Database = "postgres" };

    public async ValueTask DisposeAsync()
    {
        if (_owned && Hosted is not null) await Hosted.DisposeAsync();
    }
}
