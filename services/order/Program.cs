using SagaAspire.Messaging;
using SagaAspire.Order.Apis;
using SagaAspire.Order.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build().CheckSettings();

app.MapDefaultEndpoints();
app.MapOrdersApi();
app.MapDeadLetterApi();

app.Run();

/// <summary>The order service's entry point (public for the tests' WebApplicationFactory).</summary>
public partial class Program;
