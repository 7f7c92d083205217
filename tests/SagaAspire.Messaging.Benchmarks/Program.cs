using SagaAspire.Messaging.Benchmarks;

return await MessagingBenchmark.RunAsync(args);
