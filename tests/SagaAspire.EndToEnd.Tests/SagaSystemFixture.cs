using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using SagaAspire.DevHost;

namespace SagaAspire.EndToEnd.Tests;

/// <summary>
/// The whole system for the end-to-end scenarios: PostgreSQL, the Kafka-protocol broker and the
/// four services as separate processes, started through the DevHost with short saga timeouts.
/// Each scenario owns its orders (fresh ids), so one system serves them all.
/// </summary>
public sealed class SagaSystemFixture : IAsyncLifetime
{
    public const string LimitedSku = "LIMITED";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public SagaSystem System { get; private set; } = null!;
    public HttpClient Orders { get; private set; } = null!;
    public HttpClient Orchestrator { get; private set; } = null!;
    public HttpClient Inventory { get; private set; } = null!;
    public HttpClient Payment { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        System = await SagaSystem.StartAsync(new SagaSystemOptions
        {
            Configuration = typeof(SagaSystemFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug",
            Settings = new Dictionary<string, string?>
            {
                ["Orchestrator__StepTimeout"] = "00:00:03",
                ["Orchestrator__CompensationTimeout"] = "00:00:03",
                ["Orchestrator__StepAttempts"] = "5",
                ["Logging__LogLevel__Default"] = "Warning",
            },
        });
        Orders = Client("order");
        Orchestrator = Client("orchestrator");
        Inventory = Client("inventory");
        Payment = Client("payment");
    }

    public async Task DisposeAsync()
    {
        foreach (var client in new[] { Orders, Orchestrator, Inventory, Payment }) client?.Dispose();
        if (System is not null) await System.DisposeAsync();
    }

    private HttpClient Client(string service) => new() { BaseAddress = new Uri(System.Service(service).Url), Timeout = TimeSpan.FromSeconds(30) };

    public static object Order(string sku = "ABC", int quantity = 1, decimal unitPrice = 10m, string customerId = "c-1", string currency = "USD") =>
        new { customerId, currency, items = new[] { new { sku, quantity, unitPrice } } };

    public async Task<JsonElement> PlaceAsync(object body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await Orders.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        ((int)response.StatusCode).ShouldBe(202, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Waits until the order is Approved or Rejected.</summary>
    public async Task<JsonElement> WaitForOutcomeAsync(string orderId, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement order = default;
        while (DateTime.UtcNow < deadline)
        {
            order = await Orders.GetFromJsonAsync<JsonElement>($"/orders/{orderId}", Json);
            if (order.GetProperty("status").GetString() != "Pending") return order;
            await Task.Delay(200);
        }
        throw new TimeoutException($"Order {orderId} is still {order.GetProperty("status")} after {seconds}s");
    }

    public async Task<JsonElement> SagaAsync(string sagaId) => await Orchestrator.GetFromJsonAsync<JsonElement>($"/sagas/{sagaId}", Json);

    public async Task<(int Available, int Reserved, int Sold)> StockAsync(string sku)
    {
        var product = await Inventory.GetFromJsonAsync<JsonElement>($"/inventory/{sku}", Json);
        return (product.GetProperty("available").GetInt32(), product.GetProperty("reserved").GetInt32(), product.GetProperty("sold").GetInt32());
    }
}

[CollectionDefinition(Name)]
public sealed class SagaSystemCollection : ICollectionFixture<SagaSystemFixture>
{
    public const string Name = "saga system";
}
