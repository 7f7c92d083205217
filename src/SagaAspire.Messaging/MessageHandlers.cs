using Microsoft.Extensions.DependencyInjection;

namespace SagaAspire.Messaging;

/// <summary>Which handler processes which message contract, and which topics that subscribes to.</summary>
public sealed class MessageHandlers
{
    private readonly Dictionary<Type, Registration> _byType = [];
    private readonly Dictionary<Type, Func<object, IEnumerable<string>>> _validators = [];

    internal sealed record Registration(string Topic, Type MessageType, Func<IServiceProvider, object, HandlerCall> Resolve);

    /// <summary>A resolved handler, for one message: whether it reads first, and the call.</summary>
    internal sealed record HandlerCall(bool ReadsFirst, Func<MessageContext, CancellationToken, Task> HandleAsync);

    public IReadOnlyCollection<string> Topics => _byType.Values.Select(r => r.Topic).Distinct(StringComparer.Ordinal).ToList();

    internal bool TryGet(Type messageType, out Registration registration) => _byType.TryGetValue(messageType, out registration!);

    internal void Add<TMessage, THandler>(string topic) where TMessage : class where THandler : class, IMessageHandler<TMessage>
    {
        if (!_byType.TryAdd(typeof(TMessage), new Registration(topic, typeof(TMessage), (services, message) =>
            {
                IMessageHandler<TMessage> handler = services.GetRequiredService<THandler>();
                return new HandlerCall(handler.ReadsFirst, (context, ct) => handler.HandleAsync((TMessage)message, context, ct));
            })))
            throw new InvalidOperationException($"{typeof(TMessage).Name} already has a handler.");
    }

    internal void AddValidator<TMessage>(Func<TMessage, IEnumerable<string>> validate) where TMessage : class =>
        _validators[typeof(TMessage)] = message => validate((TMessage)message);

    /// <summary>The problems of a received message, empty when it is valid.</summary>
    internal IEnumerable<string> Validate(object message) =>
        _validators.TryGetValue(message.GetType(), out var validate) ? validate(message) : [];
}
