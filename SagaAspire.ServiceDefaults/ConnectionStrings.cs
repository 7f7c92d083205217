using System.Globalization;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace SagaAspire.ServiceDefaults;

/// <summary>
/// Reads connection strings exactly as an Aspire AppHost injects them
/// (<c>ConnectionStrings__&lt;name&gt;</c>), and fails start-up with a message that names the
/// setting and shows an example when one is missing or malformed.
/// </summary>
public static class ConnectionStrings
{
    public static string Setting(string name) => $"ConnectionStrings:{name}";

    /// <summary>Kafka bootstrap servers: <c>host:port</c>, comma-separated for several brokers.</summary>
    public static string GetKafkaBootstrapServers(IConfiguration configuration, string name)
    {
        var value = Require(configuration, name, KafkaExample);
        foreach (var server in value.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TryParseHostPort(server, out _, out _))
                throw Malformed(name, $"'{server}' is not host:port", KafkaExample);
        }
        return value;
    }

    /// <summary>One Kafka server, <c>host:port</c> (an IPv6 host in brackets), without a scheme.</summary>
    public static bool TryParseHostPort(string server, out string host, out int port)
    {
        var colon = server.LastIndexOf(':');
        host = colon > 0 ? server[..colon].Trim('[', ']') : server;
        port = 0;
        return colon > 0
            && int.TryParse(server.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and < 65536
            && !server.Contains("://", StringComparison.Ordinal);
    }

    /// <summary>An Npgsql connection string with at least a host.</summary>
    public static NpgsqlConnectionStringBuilder GetPostgres(IConfiguration configuration, string name)
    {
        var value = Require(configuration, name, PostgresExample(name));
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException ex)
        {
            throw Malformed(name, ex.Message, PostgresExample(name));
        }
        if (string.IsNullOrWhiteSpace(builder.Host))
            throw Malformed(name, "it names no Host", PostgresExample(name));
        return builder;
    }

    private const string KafkaExample = "localhost:9092";
    private static string PostgresExample(string name) => $"Host=localhost;Port=5432;Database={name};Username=postgres;Password=...";

    private static string Require(IConfiguration configuration, string name, string example)
    {
        var value = configuration.GetConnectionString(name);
        if (string.IsNullOrWhiteSpace(value))
            throw new ConfigurationErrorException(
                $"Missing setting {Setting(name)} (environment variable ConnectionStrings__{name}). " +
                $"Set it, for example to '{example}', or start the system through the Aspire AppHost (./build.sh run), which sets it for you.");
        return value;
    }

    private static ConfigurationErrorException Malformed(string name, string problem, string example) =>
        new($"Setting {Setting(name)} (environment variable ConnectionStrings__{name}) is malformed: {problem}. Example of a valid value: '{example}'.");
}

/// <summary>A setting the service needs is missing or malformed; the message says which and how to fix it.</summary>
public sealed class ConfigurationErrorException(string message) : InvalidOperationException(message);
