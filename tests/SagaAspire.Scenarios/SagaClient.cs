using System.Net.Http.Json;
using System.Text.Json;

namespace SagaAspire.Scenarios;

/// <summary>What the scenarios do with the system: place orders and look at orders, sagas, stock, payments and deliveries.</summary>
public sealed class SagaClient(ISagaHost host)
{
    /// <summary>A SKU the catalog seeds with exactly 50 units, for the oversell scenario only.</summary>
    public const string LimitedSku = "LIMITED";

    /// <summary>A country the delivery service does not serve: it refuses every order for it ("we do not deliver to AQ").</summary>
    public const string UnservedCountry = "AQ";

    /// <summary>Where an order without a delivery address goes (the order service's Orders:DefaultDeliveryAddress).</summary>
    public static readonly Address DefaultAddress = new("1 Harbour Street", "Springfield", "12345", "US");
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public HttpClient Orders => host.Client("order");
    public HttpClient Orchestrator => host.Client("orchestrator");
    public HttpClient Inventory => host.Client("inventory");
    public HttpClient Payment => host.Client("payment");
    public HttpClient Delivery => host.Client("delivery");

    /// <summary>An order's body without a delivery address: it goes to <see cref="DefaultAddress"/>.</summary>
    public static object Order(string sku = "ABC", int quantity = 1, decimal unitPrice = 10m, string customerId = "c-1", string currency = "USD") =>
        new { customerId, currency, items = new[] { new { sku, quantity, unitPrice } } };

    /// <summary>An order's body with its <c>deliveryAddress</c>.</summary>
    public static object Order(Address deliveryAddress, string sku = "ABC", int quantity = 1, decimal unitPrice = 10m, string customerId = "c-1", string currency = "USD") =>
        new { customerId, currency, items = new[] { new { sku, quantity, unitPrice } }, deliveryAddress };

    /// <summary>An address in <paramref name="country"/> (an ISO 3166-1 alpha-2 code).</summary>
    public static Address AddressIn(string country) => new("5 Test Lane", "Testville", "T-1000", country);

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

    /// <summary>The saga's payment (<c>GET /payments/{sagaId}</c>).</summary>
    public async Task<JsonElement> PaymentAsync(string sagaId) => await Payment.GetFromJsonAsync<JsonElement>($"/payments/{sagaId}", Json);

    /// <summary>The saga's delivery (<c>GET /deliveries/{sagaId}</c>).</summary>
    public async Task<JsonElement> DeliveryAsync(string sagaId) => await Delivery.GetFromJsonAsync<JsonElement>($"/deliveries/{sagaId}", Json);

    /// <summary>The saga's timeline as "step:outcome", in the order the saga wrote it.</summary>
    public static List<string> Outcomes(JsonElement saga) =>
        [.. saga.GetProperty("timeline").EnumerateArray().Select(t => $"{t.GetProperty("step").GetString()}:{t.GetProperty("outcome").GetString()}")];

    /// <summary>Each step of the saga with its status, in the saga's order.</summary>
    public static List<(string Name, string Status)> Steps(JsonElement saga) =>
        [.. saga.GetProperty("steps").EnumerateArray().Select(s => (s.GetProperty("name").GetString()!, s.GetProperty("status").GetString()!))];

    public async Task<(int Available, int Reserved, int Sold)> StockAsync(string sku)
    {
        var product = await Inventory.GetFromJsonAsync<JsonElement>($"/inventory/{sku}", Json);
        return (product.GetProperty("available").GetInt32(), product.GetProperty("reserved").GetInt32(), product.GetProperty("sold").GetInt32());
    }
}

/// <summary>A delivery address as <c>POST /orders</c> takes it and the order and delivery views show it.</summary>
public sealed record Address(string Street, string City, string PostalCode, string Country)
{
    /// <summary>The address an API returned (<c>{street, city, postalCode, country}</c>).</summary>
    public static Address From(JsonElement address) => new(address.GetProperty("street").GetString()!, address.GetProperty("city").GetString()!,
        address.GetProperty("postalCode").GetString()!, address.GetProperty("country").GetString()!);
}
