using System.Net.Http.Json;
using System.Text.Json;

namespace SagaAspire.Scenarios;

/// <summary>What the scenarios do with the system: place orders and look at orders, sagas and stock.</summary>
public sealed class SagaClient(ISagaHost host)
{
    /// <summary>A SKU the catalog seeds with exactly 50 units, for the oversell scenario only.</summary>
    public const string LimitedSku = "LIMITED";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public HttpClient Orders => host.Client("order");
    public HttpClient Orchestrator => host.Client("orchestrator");
    public HttpClient Inventory => host.Client("inventory");
    public HttpClient Payment => host.Client("payment");

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
