using Npgsql;

namespace SagaAspire.Messaging;

/// <summary>Which failures are worth retrying without limit because they pass on their own.</summary>
internal static class Transience
{
    public static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException pg => pg.IsTransient
            || pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected
                or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is System.Net.Sockets.SocketException or IOException or TimeoutException,
        TimeoutException => true,
        System.Data.DBConcurrencyException => true,   // an optimistic-concurrency conflict: reload and decide again
        System.Net.Sockets.SocketException => true,
        Confluent.Kafka.KafkaException kafka => !kafka.Error.IsFatal,
        _ => false,
    };
}
