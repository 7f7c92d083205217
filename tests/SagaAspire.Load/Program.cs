using SagaAspire.Load;

return await LoadCommand.RunAsync(args);
