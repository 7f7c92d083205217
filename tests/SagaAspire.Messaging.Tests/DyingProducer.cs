using System.Reflection;
using Confluent.Kafka;

namespace SagaAspire.Messaging.Tests;

/// <summary>
/// A real producer that "dies" after a number of sends: later sends throw as if the process had
/// ended there. Everything sent before that really reached the broker.
/// </summary>
public class DyingProducer : DispatchProxy
{
    private IProducer<string, byte[]> _real = null!;
    private int _remaining;

    public static IProducer<string, byte[]> Wrap(IProducer<string, byte[]> real, int produceBeforeDeath)
    {
        var proxy = Create<IProducer<string, byte[]>, DyingProducer>();
        var dying = (DyingProducer)(object)proxy;
        dying._real = real;
        dying._remaining = produceBeforeDeath;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name is "Produce" or "ProduceAsync" && Interlocked.Decrement(ref _remaining) < 0)
            throw new ProcessDied();
        try
        {
            return targetMethod.Invoke(_real, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
    }

    public sealed class ProcessDied() : Exception("the relay's process died here");
}
