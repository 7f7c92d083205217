using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Apis;
using SagaAspire.Orchestrator.Explorer;
using SagaAspire.Orchestrator.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build().CheckSettings();

app.MapDefaultEndpoints();
app.MapSagasApi();
app.MapDeadLetterApi();
app.MapSagaExplorer();

app.Run();

/// <summary>The orchestrator's entry point (public for the tests' WebApplicationFactory).</summary>
public partial class Program;
