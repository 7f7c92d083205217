using System.Text.Json;
using System.Text.Json.Serialization;
using SagaAspire.Messaging;

namespace SagaAspire.Messaging.Tests;

/// <summary>A test contract: money into an account, numbered per account.</summary>
[MessageType("test.deposit", 1)]
public sealed record Deposit(string Account, decimal Amount, int Sequence)
{
    /// <summary>Free text; a test makes it large enough that no broker takes the message.</summary>
    public string? Memo { get; init; }
}

/// <summary>A contract the test service knows but does not handle.</summary>
[MessageType("test.audit", 1)]
public sealed record Audit(string Note);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Deposit))]
[JsonSerializable(typeof(Audit))]
internal sealed partial class TestContracts : JsonSerializerContext;
