using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SagaAspire.Order.Apis;

namespace SagaAspire.Services.Tests;

[Collection(ServiceCollection.Name)]
public sealed class the_order_api(ServiceInfrastructure infrastructure)
{
    [Fact]
    public async Task accepts_an_order_with_location_ids_and_trace_and_stores_it_pending_with_its_message()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();

        using var response = await client.PostAsJsonAsync("/orders", new { customerId = "c-1", currency = "usd", items = new[] { new { sku = "ABC", quantity = 2, unitPrice = 5.5m } } });
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var orderId = body.GetProperty("orderId").GetString()!;
        response.Headers.Location!.ToString().ShouldBe($"/orders/{orderId}");
        body.GetProperty("sagaId").GetString().ShouldNotBeNullOrEmpty();
        body.GetProperty("traceId").GetString()!.Length.ShouldBe(32);

        var order = await client.GetFromJsonAsync<JsonElement>($"/orders/{orderId}");
        order.GetProperty("status").GetString().ShouldBe("Pending");
        order.GetProperty("currency").GetString().ShouldBe("USD");
        order.GetProperty("total").GetDecimal().ShouldBe(11m);
        order.GetProperty("deliveryAddress").GetProperty("country").GetString().ShouldBe("US", "without an address the order goes to the default one");
        order.GetProperty("delivery").ValueKind.ShouldBe(JsonValueKind.Null, "no delivery before the saga approves the order");
        (await Count(service, "SELECT count(*) FROM messaging.outbox WHERE message_type = 'order.placed.v1'")).ShouldBe(1);
    }

    public static TheoryData<string, string, string> InvalidBodies => new()
    {
        { """{"currency":"USD","items":[{"sku":"A","quantity":1,"unitPrice":1}]}""", "customerId", "required" },
        { """{"customerId":"c","currency":"XXQ","items":[{"sku":"A","quantity":1,"unitPrice":1}]}""", "currency", "ISO 4217" },
        { """{"customerId":"c","currency":"USD","items":[{"sku":"A","quantity":0,"unitPrice":1}]}""", "items[0].quantity", "positive" },
        { """{"customerId":"c","currency":"USD","items":[{"sku":"A","quantity":1,"unitPrice":-2}]}""", "items[0].unitPrice", "positive" },
        { """{"customerId":"c","currency":"USD","items":[]}""", "items", "at least one" },
        { """{"customerId":"c","currency":"USD","items":[{"quantity":1,"unitPrice":1}]}""", "items[0].sku", "required" },
        { """{"orderId":"o-1","sku":"ABC","quantity":2,"amount":0,"currency":"USD"}""", "amount", "positive" },
        { """{"customerId":"c","currency":"USD","items":[{"sku":"A","quantity":"two","unitPrice":1}]}""", "items[0].quantity", "wrong type" },
        { """{"customerId":"c",""", "body", "well-formed" },
        { """{"orderId":"o-1","sku":"ABC","quantity":2,"amount":5,"currency":"USD","deliveryAddress":{"street":"1 Main St","city":"X","postalCode":"1","country":"USA"}}""",
            "deliveryAddress.country", "2-letter ISO 3166" },
        { """{"customerId":"c","currency":"USD","items":[{"sku":"A","quantity":1,"unitPrice":1}],"deliveryAddress":{"city":"X","postalCode":"1","country":"US"}}""",
            "deliveryAddress.street", "required" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task refuses_invalid_input_naming_the_field_and_stores_nothing(string json, string field, string message)
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();
        using var response = await client.PostAsync("/orders", new StringContent(json, Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors");
        errors.TryGetProperty(field, out var messages).ShouldBeTrue($"errors name '{field}': {errors}");
        messages[0].GetString()!.ShouldContain(message);
        problem.ToString().ShouldNotContain("   at ", Case.Sensitive, "no stack traces");
        (await Count(service, "SELECT count(*) FROM orders")).ShouldBe(0);
        (await Count(service, "SELECT count(*) FROM messaging.outbox")).ShouldBe(0);
    }

    [Fact]
    public async Task sends_the_delivery_address_it_was_given_trimmed_and_with_the_country_in_capitals()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();
        using var response = await client.PostAsJsonAsync("/orders", new
        {
            customerId = "c-2", currency = "EUR", items = new[] { new { sku = "ABC", quantity = 1, unitPrice = 3m } },
            deliveryAddress = new { street = " Damrak 1 ", city = "Amsterdam", postalCode = "1012 LG", country = "nl" },
        });
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var orderId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetString();
        var address = (await client.GetFromJsonAsync<JsonElement>($"/orders/{orderId}")).GetProperty("deliveryAddress");
        (address.GetProperty("street").GetString(), address.GetProperty("postalCode").GetString(), address.GetProperty("country").GetString())
            .ShouldBe(("Damrak 1", "1012 LG", "NL"));
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT convert_from(payload, 'UTF8')::jsonb -> 'address' ->> 'city' FROM messaging.outbox WHERE message_type = 'order.placed.v1'");
        (await command.ExecuteScalarAsync()).ShouldBe("Amsterdam", "OrderPlaced carries the address to the saga");
    }

    [Fact]
    public async Task stops_at_start_up_naming_a_default_address_with_a_part_missing()
    {
        var error = await infrastructure.StartupErrorAsync<OrdersOptions>("orders", new Dictionary<string, string?>
        {
            ["Messaging:RelayEnabled"] = "false", ["Orders:DefaultDeliveryAddress:Country"] = "Narnia",
        });
        error.ShouldBeOfType<Microsoft.Extensions.Options.OptionsValidationException>().Message.ShouldContain("Orders:DefaultDeliveryAddress:country: 'Narnia' is not a 2-letter ISO 3166 country code.");
    }

    [Fact]
    public async Task refuses_too_many_lines_a_wrong_content_type_and_an_oversized_body()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();

        var lines = Enumerable.Range(0, 51).Select(i => new { sku = $"S{i}", quantity = 1, unitPrice = 1m });
        (await client.PostAsJsonAsync("/orders", new { customerId = "c", currency = "USD", items = lines })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await client.PostAsync("/orders", new StringContent("customerId=c", Encoding.UTF8, "application/x-www-form-urlencoded"))).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var huge = $$"""{"customerId":"c","currency":"USD","items":[{"sku":"{{new string('A', 70_000)}}","quantity":1,"unitPrice":1}]}""";
        (await client.PostAsync("/orders", new StringContent(huge, Encoding.UTF8, "application/json"))).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await Count(service, "SELECT count(*) FROM orders")).ShouldBe(0);
    }

    [Fact]
    public async Task replays_the_first_response_for_a_repeated_idempotency_key_and_refuses_it_for_another_body()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();
        var order = new { customerId = "c-2", currency = "EUR", items = new[] { new { sku = "ABC", quantity = 1, unitPrice = 3m } } };

        var first = await Send(client, order, "key-1");
        var again = await Send(client, order, "key-1");
        again.Status.ShouldBe(HttpStatusCode.Accepted);
        again.Body.ShouldBe(first.Body);
        again.Location.ShouldBe(first.Location);
        (await Send(client, order with { customerId = "c-3" }, "key-1")).Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        (await Count(service, "SELECT count(*) FROM orders")).ShouldBe(1);
    }

    [Fact]
    public async Task concurrent_requests_with_one_key_give_one_order()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();
        var order = new { customerId = "c-9", currency = "EUR", items = new[] { new { sku = "ABC", quantity = 1, unitPrice = 3m } } };

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Send(client, order, "key-race")));
        answers.ShouldAllBe(a => a.Status == HttpStatusCode.Accepted || a.Status == HttpStatusCode.Conflict);
        answers.Where(a => a.Status == HttpStatusCode.Accepted).Select(a => a.Body).Distinct().Count().ShouldBe(1);
        (await Count(service, "SELECT count(*) FROM orders")).ShouldBe(1);
    }

    [Fact]
    public async Task answers_503_with_retry_after_when_its_database_is_down()
    {
        await using var postgres = await Embedded.EmbeddedPostgres.StartAsync();
        await postgres.CreateDatabaseAsync("orders");
        await using var service = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<OrdersOptions>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:orders", postgres.ConnectionString("orders") + ";Timeout=2");
            web.UseSetting("ConnectionStrings:kafka", infrastructure.Kafka.BootstrapServers);
            web.UseSetting("Messaging:RelayEnabled", "false");
        });
        using var client = service.CreateClient();
        (await client.GetAsync("/orders")).StatusCode.ShouldBe(HttpStatusCode.OK);

        await postgres.StopAsync();
        using var response = await client.PostAsJsonAsync("/orders", new { customerId = "c", currency = "USD", items = new[] { new { sku = "A", quantity = 1, unitPrice = 1m } } });
        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.ShouldNotBeNull();
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task answers_404_problem_details_for_an_unknown_order_and_400_for_a_bad_filter()
    {
        await using var service = await infrastructure.ServiceAsync<OrdersOptions>("orders", new Dictionary<string, string?> { ["Messaging:RelayEnabled"] = "false" });
        using var client = service.CreateClient();
        var missing = await client.GetAsync("/orders/nope");
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        missing.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await client.GetAsync("/orders?status=Lost")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    private static async Task<(HttpStatusCode Status, string Body, string? Location)> Send<T>(HttpClient client, T order, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = JsonContent.Create(order) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Location?.ToString());
    }

    private static async Task<long> Count<T>(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<T> service, string sql) where T : class
    {
        await using var command = service.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
