using System.Net;
using Microsoft.Extensions.Hosting;
using SagaAspire.Embedded;

namespace SagaAspire.ServiceDefaults.Tests;

public sealed class health_endpoints
{
    [Fact]
    public async Task report_healthy_while_postgres_is_up_and_unhealthy_once_it_is_down()
    {
        await using var postgres = await EmbeddedPostgres.StartAsync();
        await using var service = await MinimalService.StartAsync(
            new Dictionary<string, string?> { ["ConnectionStrings:orders"] = postgres.ConnectionString() + ";Timeout=2" },
            builder => builder.AddNpgsqlDataSource("orders"));

        await AssertStatus(service, "/health", HttpStatusCode.OK, "Healthy");

        await postgres.StopAsync();
        await AssertStatus(service, "/health", HttpStatusCode.ServiceUnavailable, "Unhealthy");
        await AssertStatus(service, "/alive", HttpStatusCode.OK, "Healthy");

        await postgres.RestartAsync();
        await AssertStatus(service, "/health", HttpStatusCode.OK, "Healthy");
    }

    [Fact]
    public async Task report_unhealthy_when_the_kafka_broker_is_gone()
    {
        var kafka = EmbeddedKafka.Start();
        await using var service = await MinimalService.StartAsync(
            new Dictionary<string, string?> { ["ConnectionStrings:kafka"] = kafka.BootstrapServers },
            builder => builder.AddKafkaClient());

        await AssertStatus(service, "/health", HttpStatusCode.OK, "Healthy");
        kafka.Dispose();
        await AssertStatus(service, "/health", HttpStatusCode.ServiceUnavailable, "Unhealthy");
        await AssertStatus(service, "/alive", HttpStatusCode.OK, "Healthy");
    }

    [Fact]
    public async Task answer_with_the_status_word_only()
    {
        await using var service = await MinimalService.StartAsync(
            new Dictionary<string, string?> { ["ConnectionStrings:orders"] = "Host=127.0.0.1;Port=1;Database=orders;Username=secret-user;Timeout=1" },
            builder => builder.AddNpgsqlDataSource("orders"));

        var response = await service.Client.GetAsync(new Uri("/health", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        body.ShouldBe("Unhealthy");
        body.ShouldNotContain("secret-user");
    }

    private static async Task AssertStatus(MinimalService service, string path, HttpStatusCode expected, string body)
    {
        // Health checks run on demand; a dependency that just went away may answer one more time.
        HttpResponseMessage response = null!;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            response = await service.Client.GetAsync(new Uri(path, UriKind.Relative));
            if (response.StatusCode == expected) break;
            await Task.Delay(250);
        }
        response.StatusCode.ShouldBe(expected, path);
        (await response.Content.ReadAsStringAsync()).ShouldBe(body);
    }
}
