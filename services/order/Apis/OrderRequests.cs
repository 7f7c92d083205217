using System.Globalization;
using System.Text.Json.Serialization;
using SagaAspire.Contracts;

namespace SagaAspire.Order.Apis;

/// <summary>
/// The body of <c>POST /orders</c>, in either shape: <c>{customerId, currency, items: [{sku, quantity, unitPrice}]}</c>,
/// or the single-item seed shape <c>{orderId, sku, quantity, amount, currency}</c> where amount is the order's total.
/// Either may carry <c>deliveryAddress: {street, city, postalCode, country}</c>; without one the
/// order goes to <c>Orders:DefaultDeliveryAddress</c>.
/// Every field is optional here so that a missing one is reported by name, not as a parse error.
/// </summary>
public sealed class PlaceOrderRequest
{
    public string? OrderId { get; set; }
    public string? CustomerId { get; set; }
    public string? Currency { get; set; }
    public List<OrderItemRequest?>? Items { get; set; }
    public string? Sku { get; set; }
    public int? Quantity { get; set; }
    public decimal? Amount { get; set; }
    public AddressRequest? DeliveryAddress { get; set; }
}

/// <summary>Where an order goes; <see cref="Country"/> is an ISO 3166-1 alpha-2 code (any case).</summary>
public sealed class AddressRequest
{
    public string? Street { get; set; }
    public string? City { get; set; }
    public string? PostalCode { get; set; }
    public string? Country { get; set; }
}

public sealed class OrderItemRequest
{
    public string? Sku { get; set; }
    public int? Quantity { get; set; }
    public decimal? UnitPrice { get; set; }
}

/// <summary>An order that passed validation, normalised to one shape.</summary>
public sealed record ValidOrder(string? OrderId, string CustomerId, string Currency, IReadOnlyList<OrderLine> Lines, DeliveryAddress DeliveryAddress)
{
    public decimal Total => Lines.Sum(l => l.UnitPrice * l.Quantity);
}

/// <summary>The answer to an accepted order.</summary>
public sealed record OrderAccepted(string OrderId, string SagaId, string Status, string? TraceId);

/// <summary>An order as the API shows it; <see cref="Delivery"/> once it is approved.</summary>
public sealed record OrderView(string OrderId, string SagaId, string CustomerId, string Currency, IReadOnlyList<OrderLine> Lines,
    decimal Total, string Status, string? Reason, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? TraceId,
    DeliveryAddress? DeliveryAddress, DeliveryBooking? Delivery);

/// <summary>One page of orders.</summary>
public sealed record OrderPage(IReadOnlyList<OrderView> Items, int Page, int PageSize, long Total);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, AllowTrailingCommas = false, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(PlaceOrderRequest))]
[JsonSerializable(typeof(OrderAccepted))]
[JsonSerializable(typeof(ValidOrder))]
[JsonSerializable(typeof(List<OrderLine>))]
[JsonSerializable(typeof(DeliveryAddress))]
[JsonSerializable(typeof(DeliveryBooking))]
internal sealed partial class OrderJson : JsonSerializerContext;

/// <summary>Checks a request and names every problem by the field it concerns.</summary>
internal static class OrderValidation
{
    public const string GuestCustomer = "guest";
    private const int MaxIdLength = 64;
    private const int MaxAddressPartLength = 200;

    public static (ValidOrder? Order, Dictionary<string, string[]> Errors) Validate(PlaceOrderRequest request, int maxLines, DeliveryAddress defaultAddress)
    {
        var errors = new Dictionary<string, List<string>>();
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
            list.Add(message);
        }

        if (request.OrderId is not null && !IsIdentifier(request.OrderId))
            Add("orderId", $"orderId must be 1 to {MaxIdLength} letters, digits, '-', '_' or '.'.");
        var seedShape = request.Items is null && (request.Sku is not null || request.Quantity is not null || request.Amount is not null);
        var customer = request.CustomerId ?? (seedShape ? GuestCustomer : null);
        if (customer is null) Add("customerId", "customerId is required.");
        else if (!IsIdentifier(customer)) Add("customerId", $"customerId must be 1 to {MaxIdLength} letters, digits, '-', '_' or '.'.");

        var currency = request.Currency?.Trim().ToUpperInvariant();
        if (currency is null) Add("currency", "currency is required.");
        else if (!Currencies.IsKnown(currency)) Add("currency", $"'{request.Currency}' is not an ISO 4217 currency code.");

        var lines = new List<OrderLine>();
        if (seedShape)
        {
            if (request.Items is not null) Add("items", "Give either items or sku/quantity/amount, not both.");
            var sku = CheckSku(request.Sku, "sku", Add);
            var quantity = CheckQuantity(request.Quantity, "quantity", Add);
            if (request.Amount is null) Add("amount", "amount is required.");
            else if (request.Amount <= 0) Add("amount", "amount must be positive.");
            else if (decimal.Round(request.Amount.Value, 2) != request.Amount) Add("amount", "amount has more than two decimals.");
            if (sku is not null && quantity is not null && request.Amount > 0)
                lines.Add(new OrderLine(sku, quantity.Value, request.Amount.Value / quantity.Value));
        }
        else if (request.Items is null) Add("items", "items is required (or the single-item fields sku, quantity and amount).");
        else if (request.Items.Count == 0) Add("items", "items must hold at least one line.");
        else if (request.Items.Count > maxLines) Add("items", $"An order holds at most {maxLines} lines, not {request.Items.Count}.");
        else
        {
            for (var i = 0; i < request.Items.Count; i++)
            {
                var item = request.Items[i];
                var prefix = $"items[{i}]";
                if (item is null)
                {
                    Add(prefix, "The line is null.");
                    continue;
                }
                var sku = CheckSku(item.Sku, $"{prefix}.sku", Add);
                var quantity = CheckQuantity(item.Quantity, $"{prefix}.quantity", Add);
                if (item.UnitPrice is null) Add($"{prefix}.unitPrice", "unitPrice is required.");
                else if (item.UnitPrice <= 0) Add($"{prefix}.unitPrice", "unitPrice must be positive.");
                else if (decimal.Round(item.UnitPrice.Value, 4) != item.UnitPrice) Add($"{prefix}.unitPrice", "unitPrice has more than four decimals.");
                if (sku is not null && quantity is not null && item.UnitPrice > 0) lines.Add(new OrderLine(sku, quantity.Value, item.UnitPrice.Value));
            }
        }

        var address = request.DeliveryAddress is null ? defaultAddress : CheckAddress(request.DeliveryAddress, "deliveryAddress", Add);

        var total = lines.Sum(l => l.UnitPrice * l.Quantity);
        if (errors.Count == 0 && total > 1_000_000_000m) Add("items", "The order's total is too large.");
        if (errors.Count > 0) return (null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        return (new ValidOrder(request.OrderId, customer!, currency!, lines, address!), []);
    }

    /// <summary>The address trimmed, its country in upper case; null when a part is missing or too long.</summary>
    public static DeliveryAddress? CheckAddress(AddressRequest address, string field, Action<string, string> add)
    {
        string? Part(string? value, string name)
        {
            var trimmed = value?.Trim();
            if (string.IsNullOrEmpty(trimmed)) add($"{field}.{name}", $"{name} is required.");
            else if (trimmed.Length > MaxAddressPartLength) add($"{field}.{name}", $"{name} is at most {MaxAddressPartLength} characters.");
            else if (trimmed.Any(char.IsControl)) add($"{field}.{name}", $"{name} holds a control character.");
            else return trimmed;
            return null;
        }
        var street = Part(address.Street, "street");
        var city = Part(address.City, "city");
        var postalCode = Part(address.PostalCode, "postalCode");
        var country = address.Country?.Trim().ToUpperInvariant();
        if (string.IsNullOrEmpty(country)) add($"{field}.country", "country is required.");
        else if (country is not { Length: 2 } || !country.All(char.IsAsciiLetterUpper))
        {
            add($"{field}.country", $"'{address.Country}' is not a 2-letter ISO 3166 country code.");
            country = null;
        }
        return street is null || city is null || postalCode is null || string.IsNullOrEmpty(country) ? null : new DeliveryAddress(street, city, postalCode, country);
    }

    private static string? CheckSku(string? sku, string field, Action<string, string> add)
    {
        if (string.IsNullOrWhiteSpace(sku))
        {
            add(field, "sku is required.");
            return null;
        }
        if (!IsIdentifier(sku))
        {
            add(field, $"sku must be 1 to {MaxIdLength} letters, digits, '-', '_' or '.'.");
            return null;
        }
        return sku;
    }

    private static int? CheckQuantity(int? quantity, string field, Action<string, string> add)
    {
        if (quantity is null) add(field, "quantity is required.");
        else if (quantity <= 0) add(field, "quantity must be positive.");
        else if (quantity > 10_000) add(field, "quantity must be at most 10000.");
        else return quantity;
        return null;
    }

    private static bool IsIdentifier(string value) =>
        value.Length is > 0 and <= MaxIdLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>Active ISO 4217 currency codes.</summary>
internal static class Currencies
{
    private static readonly HashSet<string> Codes = new((
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC " +
        "CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD " +
        "JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD " +
        "NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP " +
        "SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG")
        .Split(' '), StringComparer.Ordinal);

    public static bool IsKnown(string code) => Codes.Contains(code);

    public static string Format(decimal amount) => amount.ToString("0.00", CultureInfo.InvariantCulture);
}
