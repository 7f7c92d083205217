using SagaAspire.Delivery.Apis;
using SagaAspire.Delivery.Extensions;
using SagaAspire.Messaging;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build().CheckSettings();

app.MapDefaultEndpoints();
app.MapDeliveriesApi();
app.MapDeadLetterApi();

app.Run();

/// <summary>The delivery service's entry point (public for the tests' WebApplicationFactory).</summary>
public partial class Program;
