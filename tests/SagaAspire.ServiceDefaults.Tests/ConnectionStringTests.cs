using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SagaAspire.ServiceDefaults.Tests;

public sealed class connection_strings
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void a_missing_kafka_setting_names_the_setting_and_an_example()
    {
        var error = Should.Throw<InvalidOperationException>(() => KafkaClientSettings.FromConfiguration(Config()));
        error.Message.ShouldContain("ConnectionStrings:kafka");
        error.Message.ShouldContain("ConnectionStrings__kafka");
        error.Message.ShouldContain("localhost:9092");
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:port")]
    [InlineData("localhost:70000")]
    [InlineData("PLAINTEXT://localhost:9092")]
    [InlineData("a:9092,b")]
    public void a_malformed_kafka_setting_says_what_is_wrong(string value)
    {
        var error = Should.Throw<InvalidOperationException>(() => KafkaClientSettings.FromConfiguration(Config(("ConnectionStrings:kafka", value))));
        error.Message.ShouldContain("is malformed");
        error.Message.ShouldContain("localhost:9092");
    }

    [Fact]
    public void kafka_security_settings_come_from_configuration()
    {
        var settings = KafkaClientSettings.FromConfiguration(Config(
            ("ConnectionStrings:kafka", "broker-1:9093,broker-2:9093"),
            ("Kafka:Client:security.protocol", "SASL_SSL"),
            ("Kafka:Client:sasl.mechanism", "PLAIN"),
            ("Kafka:Consumer:fetch.wait.max.ms", "5"),
            ("Kafka:Producer:linger.ms", "2")));

        var producer = settings.CreateProducerConfig();
        producer.BootstrapServers.ShouldBe("broker-1:9093,broker-2:9093");
        producer.Get("security.protocol").ShouldBe("SASL_SSL");
        producer.Get("sasl.mechanism").ShouldBe("PLAIN");
        producer.Get("linger.ms").ShouldBe("2");
        producer.Get("fetch.wait.max.ms").ShouldBeNull("consumer settings stay with consumers");
        var consumer = settings.CreateConsumerConfig("orders");
        consumer.GroupId.ShouldBe("orders");
        consumer.Get("fetch.wait.max.ms").ShouldBe("5");
        consumer.Get("security.protocol").ShouldBe("SASL_SSL");
    }

    [Fact]
    public void a_missing_database_setting_names_it_with_an_example()
    {
        var builder = Host.CreateApplicationBuilder();
        var error = Should.Throw<InvalidOperationException>(() => builder.AddNpgsqlDataSource("inventory"));
        error.Message.ShouldContain("ConnectionStrings:inventory");
        error.Message.ShouldContain("Host=localhost;Port=5432;Database=inventory");
    }

    [Fact]
    public void a_malformed_database_setting_is_refused()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:inventory"] = "this is not a connection string";
        Should.Throw<InvalidOperationException>(() => builder.AddNpgsqlDataSource("inventory")).Message.ShouldContain("is malformed");
    }

    [Theory]
    [InlineData("Host=db;Database=inventory", 64)]
    [InlineData("Host=db;Database=inventory;max auto prepare=0", 0)]
    [InlineData("Host=db;Database=inventory;Max Auto Prepare=10", 10)]
    public void the_data_source_prepares_repeated_statements_unless_its_connection_string_says_otherwise(string setting, int prepared)
    {
        using var services = DataSources(setting);
        Settings(services.GetRequiredService<Npgsql.NpgsqlDataSource>()).MaxAutoPrepare.ShouldBe(prepared);
    }

    [Theory]
    [InlineData("Host=db;Database=inventory", true)]
    [InlineData("Host=db;Database=inventory;no reset on close=false", false)]
    public void pooled_connections_are_not_reset_unless_the_connection_string_says_otherwise(string setting, bool skipsReset)
    {
        using var services = DataSources(setting);
        var pooled = Settings(services.GetRequiredService<Npgsql.NpgsqlDataSource>());
        pooled.Pooling.ShouldBeTrue();
        pooled.NoResetOnClose.ShouldBe(skipsReset);
    }

    [Fact]
    public void connections_that_keep_session_state_come_from_an_unpooled_data_source_for_the_same_database()
    {
        using var services = DataSources("Host=db;Port=5433;Database=inventory;Username=svc");
        var sessions = Settings(services.GetRequiredKeyedService<Npgsql.NpgsqlDataSource>(ConnectionExtensions.SessionDataSourceKey("inventory")));
        sessions.Pooling.ShouldBeFalse("closing a connection must end its session, and the locks and LISTEN it held");
        (sessions.Host, sessions.Port, sessions.Database, sessions.Username).ShouldBe(("db", 5433, "inventory", "svc"));
    }

    /// <summary>The services <c>AddNpgsqlDataSource("inventory")</c> registers for this connection string.</summary>
    private static ServiceProvider DataSources(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:inventory"] = connectionString;
        builder.AddNpgsqlDataSource("inventory");
        return builder.Services.BuildServiceProvider();
    }

    private static Npgsql.NpgsqlConnectionStringBuilder Settings(Npgsql.NpgsqlDataSource dataSource) => new(dataSource.ConnectionString);
}
