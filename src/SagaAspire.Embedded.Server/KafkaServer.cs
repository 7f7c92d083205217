using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;

namespace SagaAspire.Embedded.Server;

/// <summary>
/// The embedded Kafka-protocol broker as a process: the mock cluster, bootstrap servers on the
/// port its host chose, and a control endpoint to take the broker down for a while and back.
/// </summary>
internal static class KafkaServer
{
    public static async Task<int> RunAsync(ServerArguments arguments)
    {
        var port = arguments.RequiredPort("--port", "KAFKA_PORT", arguments.Port);
        var controlPort = arguments.RequiredPort("--control-port", "CONTROL_PORT", arguments.ControlPort);

        using var kafka = EmbeddedKafka.Start(new EmbeddedKafkaOptions { Partitions = arguments.Partitions, Topics = arguments.Topics });
        await using var bootstrap = BootstrapForwarder.Start(port, kafka.BootstrapServers);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.AddSimpleConsole(options => options.SingleLine = true);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, controlPort));
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(services => new BrokerControl(kafka, services.GetRequiredService<ILogger<BrokerControl>>()));
        await using var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapGet("/", (BrokerControl control) => control.State());
        app.MapPost("/outage", Outage);
        app.MapPost("/up", (BrokerControl control) => control.Up());

        var log = app.Logger;
        log.LogInformation("Kafka-protocol broker (librdkafka's mock cluster, in memory: for development and tests only) " +
            "on 127.0.0.1:{Port}; its broker listens on {Broker}. {Topics} topics created with {Partitions} partitions each; " +
            "others are created on first use.", port, kafka.BootstrapServers, arguments.Topics.Count, arguments.Partitions);
        log.LogInformation("Control endpoint on http://127.0.0.1:{ControlPort}: POST /outage?seconds=n takes the broker down for n seconds, keeping its messages.", controlPort);
        await app.RunAsync();
        return 0;
    }

    private static Results<Ok<BrokerState>, ProblemHttpResult> Outage(BrokerControl control, string? seconds)
    {
        const int Longest = 3600;
        var text = seconds ?? "15";
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var duration) || duration is < 1 or > Longest)
            return TypedResults.Problem(title: "Invalid outage length", statusCode: StatusCodes.Status400BadRequest,
                detail: $"seconds must be a whole number from 1 to {Longest}, not '{text}'.");
        return TypedResults.Ok(control.Down(TimeSpan.FromSeconds(duration)));
    }
}

/// <summary>The broker's state as the control endpoint reports it.</summary>
internal sealed record BrokerState(bool Up, DateTimeOffset? DownUntil, string Broker);

/// <summary>Takes the broker down for a while and brings it back, on request or when the time is up.</summary>
internal sealed class BrokerControl(EmbeddedKafka kafka, ILogger<BrokerControl> log) : IDisposable
{
    private const int BrokerId = 1; // the mock cluster numbers its brokers from 1
    private readonly Lock _gate = new();
    private ITimer? _comeBack;
    private DateTimeOffset? _downUntil;

    public BrokerState State()
    {
        lock (_gate) return new BrokerState(_downUntil is null, _downUntil, kafka.BootstrapServers);
    }

    public BrokerState Down(TimeSpan duration)
    {
        lock (_gate)
        {
            if (_downUntil is null) kafka.SetBrokerUp(BrokerId, up: false);
            _downUntil = DateTimeOffset.UtcNow + duration;
            _comeBack?.Dispose();
            _comeBack = TimeProvider.System.CreateTimer(_ => Up(), null, duration, Timeout.InfiniteTimeSpan);
            log.LogWarning("Broker outage: the broker is down for {Seconds} s, until {Until:HH:mm:ss} UTC; its connections are closed and no new ones are served. Every message is kept.",
                duration.TotalSeconds, _downUntil);
        }
        return State();
    }

    public BrokerState Up()
    {
        lock (_gate)
        {
            _comeBack?.Dispose();
            _comeBack = null;
            if (_downUntil is not null)
            {
                kafka.SetBrokerUp(BrokerId, up: true);
                log.LogWarning("The broker is up again.");
            }
            _downUntil = null;
        }
        return State();
    }

    public void Dispose()
    {
        lock (_gate) _comeBack?.Dispose();
    }
}
