using SagaAspire.Messaging;
using SagaAspire.Payment.Apis;
using SagaAspire.Payment.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build().CheckSettings();

app.MapDefaultEndpoints();
app.MapPaymentsApi();
app.MapDeadLetterApi();

app.Run();

/// <summary>The payment service's entry point (public for the tests' WebApplicationFactory).</summary>
public partial class Program;
