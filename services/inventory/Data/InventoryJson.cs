using System.Text.Json;
using System.Text.Json.Serialization;
using SagaAspire.Contracts;

namespace SagaAspire.Inventory.Data;

/// <summary>Source-generated JSON for the reservation lines stored as jsonb.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IReadOnlyList<StockLine>))]
internal sealed partial class InventoryJson : JsonSerializerContext;
