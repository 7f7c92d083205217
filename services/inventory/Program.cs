using SagaAspire.Inventory.Apis;
using SagaAspire.Inventory.Extensions;
using SagaAspire.Messaging;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build().CheckSettings();

app.MapDefaultEndpoints();
app.MapInventoryApi();
app.MapDeadLetterApi();

app.Run();

/// <summary>The inventory service's entry point (public for the tests' WebApplicationFactory).</summary>
public partial class Program;
