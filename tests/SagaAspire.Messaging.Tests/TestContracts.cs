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

    /// <summary>Where the handler sends a <see cref="Receipt"/> (as a participant replies to the orchestrator); none when null.</summary>
    public string? ReceiptTo { get; init; }
}

/// <summary>The handler's reply to a deposit that asked for one.</summary>
[MessageType("test.receipt", 1)]
public sealed record Receipt(string Account, decimal Amount, int Sequence);

/// <summary>A contract the test service knows but does not handle.</summary>
[MessageType("test.audit", 1)]
public sealed record Audit(string Note);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Deposit))]
[JsonSerializable(typeof(Audit))]
[JsonSerializable(typeof(Receipt))]
internal sealed partial class TestContracts : JsonSerializerContext;
