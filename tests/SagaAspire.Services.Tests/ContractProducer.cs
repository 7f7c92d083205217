using Confluent.Kafka;
using SagaAspire.Contracts;
using SagaAspire.Messaging;

namespace SagaAspire.Services.Tests;

/// <summary>Puts contract messages on Kafka with a proper envelope, as another service's relay would.</summary>
public sealed class ContractProducer(string bootstrapServers) : IDisposable
{
    private readonly MessageTypes _types = new([ContractsJson.Default]);
    private readonly IProducer<string, byte[]> _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrapServers }).Build();

    public async Task SendAsync(string topic, string sagaId, object message, Guid? messageId = null)
    {
        var headers = new Headers();
        headers.SetString(MessageHeaders.MessageId, (messageId ?? Guid.NewGuid()).ToString());
        headers.SetString(MessageHeaders.MessageType, _types.WireNameOf(message.GetType()));
        headers.SetString(MessageHeaders.SagaId, sagaId);
        headers.SetString(MessageHeaders.ContentType, MessageHeaders.JsonContentType);
        await _producer.ProduceAsync(topic, new Message<string, byte[]> { Key = sagaId, Value = _types.Serialize(message), Headers = headers });
    }

    public void Dispose() => _producer.Dispose();
}
