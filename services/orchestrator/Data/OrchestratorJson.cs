using System.Text.Json;
using System.Text.Json.Serialization;
using SagaAspire.Contracts;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Data;

/// <summary>How saga state and data are stored as jsonb.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(SagaState))]
[JsonSerializable(typeof(OrderPlaced))]
internal sealed partial class OrchestratorJson : JsonSerializerContext;
