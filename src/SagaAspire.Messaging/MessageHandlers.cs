using Microsoft.Extensions.DependencyInjection;

namespace SagaAspire.Messaging;

/// <summary>Which handler processes which message contract, and which topics that subscribes to.</summary>
public sealed class MessageHandlers
{
    private readonly Dictionary<Type, Registration> _byType = [];
    private readonly Dictionary<Type, Func<object, IEnumerable<string>>> _validators = [];

    internal sealed record Registration(string Topic, Type MessageType, Func<IServiceProvider, object, MessageContext, CancellationToken, Task> Invoke);

    public IReadOnlyCollection<string> Topics => _byType.Values.Select(r => r.Topic).Distinct(StringComparer.Ordinal).ToList();

    internal bool TryGet(Type messageType, out Registration registration) => _byType.TryGetValue(messageType, out registration!);

    internal void Add<TMessage, THandler>(string topic) where TMessage : class where THandler : class, IMessageHandler<TMessage>
    {
        if (!_byType.TryAdd(typeof(TMessage), new Registration(topic, typeof(TMessage),
                (services, message, context, ct) => services.GetRequiredService<THandler>().HandleAsync((TMessage)message, context, ct))))
            throw new InvalidOperationException($"{typeof(TMessage).Name} already has a handler.");
    }

    internal void AddValidator<TMessage>(Func<TMessage, IEnumerable<string>> validate) where TMessage : class =>
        _validators[typeof(TMessage)] = message => validate((TMessage)message);

    /// <summary>The problems of a received message, empty when it is valid.</summary>
    internal IEnumerable<string> Validate(object message) =>
        _validators.TryGetValue(message.GetType(), out var validate) ? validate(message) : [];
}
