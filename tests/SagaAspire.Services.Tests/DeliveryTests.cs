using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using SagaAspire.Contracts;
using SagaAspire.Delivery.Domain;
using SagaAspire.Messaging;

namespace SagaAspire.Services.Tests;

[Collection(ServiceCollection.Name)]
public sealed class the_delivery_service(ServiceInfrastructure infrastructure)
{
    private static readonly DeliveryAddress Brussels = new("Rue de la Loi 16", "Brussels", "1000", "BE");

    [Fact]
    public async Task schedules_once_cancels_once_and_gives_the_place_back()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<DeliveryOptions>("delivery", OneSlotPerDay);
        using var replies = new ReplyReader(isolated.Kafka.BootstrapServers);
        var saga = Guid.NewGuid().ToString();
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new ScheduleDelivery("o-1", Brussels));
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new ScheduleDelivery("o-1", Brussels));

        var first = (DeliveryScheduled)await replies.NextAsync(saga);
        var again = (DeliveryScheduled)await replies.NextAsync(saga);
        again.ShouldBe(first, "a repeated schedule gets the first booking, not a second one");
        first.Booking.Date.ShouldBe(DateOnly.FromDateTime(DateTime.UtcNow).AddDays(1), "the earliest day is tomorrow");
        (await SlotAsync(isolated.Client, "BE", first.Booking.Date)).GetProperty("booked").GetInt32().ShouldBe(1);

        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new CancelDelivery("o-1"));
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new CancelDelivery("o-1"));
        (await replies.NextAsync(saga)).ShouldBe(new DeliveryCancelled("o-1"));
        (await replies.NextAsync(saga)).ShouldBe(new DeliveryCancelled("o-1"));

        var delivery = await isolated.Client.GetFromJsonAsync<JsonElement>($"/deliveries/{saga}");
        delivery.GetProperty("status").GetString().ShouldBe("cancelled");
        delivery.GetProperty("deliveryId").GetString().ShouldBe(first.Booking.DeliveryId, "a cancelled delivery keeps its id and day");
        delivery.GetProperty("address").GetProperty("city").GetString().ShouldBe("Brussels");
        (await SlotAsync(isolated.Client, "BE", first.Booking.Date)).GetProperty("booked").GetInt32().ShouldBe(0, "cancelled twice, freed once");
    }

    [Fact]
    public async Task refuses_a_schedule_that_arrives_after_its_cancel_and_books_nothing()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<DeliveryOptions>("delivery", OneSlotPerDay);
        using var replies = new ReplyReader(isolated.Kafka.BootstrapServers);
        var saga = Guid.NewGuid().ToString();
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new CancelDelivery("o-2"));
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new ScheduleDelivery("o-2", Brussels));

        (await replies.NextAsync(saga)).ShouldBe(new DeliveryCancelled("o-2"));
        (await replies.NextAsync(saga)).ShouldBe(new DeliveryRefused("o-2", "the saga's delivery was already cancelled"));
        var areas = await isolated.Client.GetFromJsonAsync<JsonElement>("/deliveries/areas?country=BE");
        areas[0].GetProperty("slots").EnumerateArray().ShouldAllBe(s => s.GetProperty("booked").GetInt32() == 0, "the overtaken schedule booked nothing");
    }

    [Fact]
    public async Task refuses_an_address_it_does_not_serve_an_order_without_one_and_a_full_calendar()
    {
        await using var isolated = await infrastructure.IsolatedServiceAsync<DeliveryOptions>("delivery", OneSlotPerDay);
        using var replies = new ReplyReader(isolated.Kafka.BootstrapServers);
        var antarctica = Guid.NewGuid().ToString();
        var nowhere = Guid.NewGuid().ToString();
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, antarctica, new ScheduleDelivery("o-3", Brussels with { Country = "AQ" }));
        await isolated.Producer.SendAsync(Topics.DeliveryCommands, nowhere, new ScheduleDelivery("o-4", null));
        (await replies.NextAsync(antarctica)).ShouldBe(new DeliveryRefused("o-3", "we do not deliver to AQ"));
        (await replies.NextAsync(nowhere)).ShouldBe(new DeliveryRefused("o-4", "the order has no delivery address"));

        // One place a day for two days: the first two bookings take them, the third finds none.
        var sagas = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid().ToString()).ToArray();
        foreach (var saga in sagas) await isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new ScheduleDelivery($"o-{saga}", Brussels));
        var answers = new List<object>();
        foreach (var saga in sagas) answers.Add(await replies.NextAsync(saga));
        answers.OfType<DeliveryScheduled>().Select(s => s.Booking.Date).Order().ToList().ShouldBe(
            [DateOnly.FromDateTime(DateTime.UtcNow).AddDays(1), DateOnly.FromDateTime(DateTime.UtcNow).AddDays(2)], "one booking per day, earliest first");
        answers.OfType<DeliveryRefused>().Single().Reason.ShouldStartWith("no delivery slot free in BE from ");

        var refused = await isolated.Client.GetFromJsonAsync<JsonElement>("/deliveries?status=refused");
        refused.GetArrayLength().ShouldBe(3);
        (await isolated.Client.GetAsync("/deliveries?status=lost")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await isolated.Client.GetAsync("/deliveries/areas?country=Germany")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await isolated.Client.GetAsync($"/deliveries/{Guid.NewGuid()}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task never_books_more_than_a_day_takes_when_many_sagas_ask_at_once()
    {
        var settings = new Dictionary<string, string?>(OneSlotPerDay) { ["Delivery:Areas:0:SlotsPerDay"] = "3", ["Delivery:BookingDays"] = "3" };
        await using var isolated = await infrastructure.IsolatedServiceAsync<DeliveryOptions>("delivery", settings);
        using var replies = new ReplyReader(isolated.Kafka.BootstrapServers);
        // More sagas than places, on every partition at once: the row lock and the CHECK decide.
        var sagas = Enumerable.Range(0, 16).Select(_ => Guid.NewGuid().ToString()).ToArray();
        await Task.WhenAll(sagas.Select(saga => isolated.Producer.SendAsync(Topics.DeliveryCommands, saga, new ScheduleDelivery($"o-{saga}", Brussels))));
        var answers = new List<object>();
        foreach (var saga in sagas) answers.Add(await replies.NextAsync(saga));

        answers.OfType<DeliveryScheduled>().Count().ShouldBe(9, "three days of three places");
        answers.OfType<DeliveryRefused>().Count().ShouldBe(7);
        var areas = await isolated.Client.GetFromJsonAsync<JsonElement>("/deliveries/areas?country=BE");
        areas[0].GetProperty("slots").EnumerateArray().Select(s => $"{s.GetProperty("booked").GetInt32()}/{s.GetProperty("capacity").GetInt32()}")
            .ToList().ShouldBe(["3/3", "3/3", "3/3"], "every day full, none over");
    }

    [Theory]
    [InlineData("Delivery:FailureRate", "1.5", "Delivery:FailureRate must be between 0 and 1, not 1.5")]
    [InlineData("Delivery:BookingDays", "0", "Delivery:BookingDays must be from 1 to 366, not 0")]
    [InlineData("Delivery:Areas:0:Country", "Germany", "Delivery:Areas:0:Country must be a 2-letter uppercase ISO 3166 code, not 'Germany'")]
    public async Task stops_at_start_up_naming_a_wrong_setting(string key, string value, string message)
    {
        var error = await infrastructure.StartupErrorAsync<DeliveryOptions>("delivery", new Dictionary<string, string?>(OneSlotPerDay) { [key] = value });
        error.ShouldBeOfType<Microsoft.Extensions.Options.OptionsValidationException>().Message.ShouldContain(message);
    }

    private static readonly Dictionary<string, string?> OneSlotPerDay = new()
    {
        ["Delivery:BookingDays"] = "2",
        // Replaces the first configured area (a list merges by index).
        ["Delivery:Areas:0:Country"] = "BE",
        ["Delivery:Areas:0:Name"] = "Belgium",
        ["Delivery:Areas:0:SlotsPerDay"] = "1",
    };

    private static async Task<JsonElement> SlotAsync(HttpClient client, string country, DateOnly day)
    {
        var areas = await client.GetFromJsonAsync<JsonElement>($"/deliveries/areas?country={country}");
        return areas[0].GetProperty("slots").EnumerateArray().Single(s => s.GetProperty("day").GetString() == day.ToString("yyyy-MM-dd"));
    }

    /// <summary>Reads the delivery service's answers from its events topic, per saga in the order sent.</summary>
    private sealed class ReplyReader : IDisposable
    {
        private readonly MessageTypes _types = new([ContractsJson.Default]);
        private readonly IConsumer<string, byte[]> _consumer;
        private readonly Dictionary<string, Queue<object>> _bySaga = [];

        public ReplyReader(string bootstrapServers)
        {
            _consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrapServers, GroupId = $"test-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
            }).Build();
            _consumer.Subscribe(Topics.DeliveryEvents);
        }

        public async Task<object> NextAsync(string sagaId)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                if (_bySaga.TryGetValue(sagaId, out var queue) && queue.Count > 0) return queue.Dequeue();
                var result = await Task.Run(() => _consumer.Consume(TimeSpan.FromMilliseconds(200)));
                if (result is null) continue;
                var type = System.Text.Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes(MessageHeaders.MessageType));
                _types.TryGetType(type, out var info).ShouldBeTrue($"'{type}' is a contract");
                if (!_bySaga.TryGetValue(result.Message.Key, out var forSaga)) _bySaga[result.Message.Key] = forSaga = new Queue<object>();
                forSaga.Enqueue(MessageTypes.Deserialize(result.Message.Value, info));
            }
            throw new TimeoutException($"The delivery service did not answer for saga {sagaId}");
        }

        public void Dispose() => _consumer.Close();
    }
}

public sealed class the_simulated_courier
{
    [Fact]
    public void refuses_at_the_configured_failure_rate()
    {
        new DeliveryDecision(new DeliveryOptions { FailureRate = 0.25 }, () => 0.24).RandomRefusal().ShouldBe("refused by the simulated courier (failure rate 0.25)");
        new DeliveryDecision(new DeliveryOptions { FailureRate = 0.25 }, () => 0.25).RandomRefusal().ShouldBeNull();
        new DeliveryDecision(new DeliveryOptions(), () => 0.0).RandomRefusal().ShouldBeNull("no failures by default");
    }

    [Fact]
    public void books_from_tomorrow_for_the_configured_number_of_days()
    {
        var (first, last) = new DeliveryDecision(new DeliveryOptions { BookingDays = 14 }).BookableDays(new DateTimeOffset(2026, 12, 31, 23, 30, 0, TimeSpan.FromHours(-5)));
        first.ShouldBe(new DateOnly(2027, 1, 2), "the day is the UTC day");
        last.ShouldBe(new DateOnly(2027, 1, 15));
    }
}
