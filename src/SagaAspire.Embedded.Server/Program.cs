using SagaAspire.Embedded.Server;

// One embedded server per process, so that each is its own resource in the Aspire dashboard,
// with its own logs, state and health:
//   SagaAspire.Embedded.Server kafka [--port n] [--control-port n] [--partitions n] [--topic t ...]
//   SagaAspire.Embedded.Server postgres [--port n] [--data dir]
// Ports fall back to the environment (KAFKA_PORT, CONTROL_PORT, POSTGRES_PORT), which is how the
// AppHost hands its allocated endpoints to a process.
try
{
    return args switch
    {
        ["kafka", .. var rest] => await KafkaServer.RunAsync(ServerArguments.Parse(rest)),
        ["postgres", .. var rest] => await PostgresServer.RunAsync(ServerArguments.Parse(rest)),
        ["--help" or "-h"] => ServerArguments.PrintUsage(Console.Out, 0),
        _ => ServerArguments.PrintUsage(Console.Error, 2),
    };
}
catch (ServerArgumentException error)
{
    await Console.Error.WriteLineAsync($"embedded server: {error.Message}");
    return 2;
}
catch (SagaAspire.Embedded.EmbeddedInfrastructureException error)
{
    await Console.Error.WriteLineAsync($"embedded server: {error.Message}");
    return 1;
}
