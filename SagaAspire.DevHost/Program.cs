using SagaAspire.DevHost;

return await DevHostCommand.RunAsync(args);
