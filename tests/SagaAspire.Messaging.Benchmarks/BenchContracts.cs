using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Serialization;

namespace SagaAspire.Messaging.Benchmarks;

/// <summary>The benchmark's only message: an id and some padding to give it a realistic size.</summary>
[MessageType("bench.ping", 1)]
public sealed record Ping(long Id, string Padding);

[JsonSerializable(typeof(Ping))]
internal sealed partial class BenchContracts : JsonSerializerContext;

/// <summary>Notes the moment each ping's handler starts.</summary>
internal sealed class PingHandler : IMessageHandler<Ping>
{
    public static readonly ConcurrentDictionary<long, long> Started = new();

    public Task HandleAsync(Ping message, MessageContext context, CancellationToken cancellationToken)
    {
        Started.TryAdd(message.Id, Stopwatch.GetTimestamp());
        return Task.CompletedTask;
    }
}
