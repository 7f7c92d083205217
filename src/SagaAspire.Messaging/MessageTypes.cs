using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace SagaAspire.Messaging;

/// <summary>
/// The message contracts a service knows: wire name, version and source-generated JSON metadata
/// for each. Unknown types on receipt are poison; unregistered types cannot be sent.
/// </summary>
public sealed class MessageTypes
{
    private readonly FrozenDictionary<string, JsonTypeInfo> _byWireName;
    private readonly FrozenDictionary<Type, (string WireName, JsonTypeInfo Info)> _byType;

    public MessageTypes(IEnumerable<JsonSerializerContext> contexts)
    {
        var byWire = new Dictionary<string, JsonTypeInfo>(StringComparer.Ordinal);
        var byType = new Dictionary<Type, (string, JsonTypeInfo)>();
        foreach (var context in contexts)
        {
            foreach (var type in ContractTypes(context))
            {
                var attribute = type.GetCustomAttribute<MessageTypeAttribute>()!;
                var info = context.GetTypeInfo(type) ?? throw new InvalidOperationException(
                    $"{type.Name} has [MessageType] but {context.GetType().Name} has no JSON metadata for it; add [JsonSerializable(typeof({type.Name}))].");
                if (byWire.TryGetValue(attribute.WireName, out var existing) && existing.Type != type)
                    throw new InvalidOperationException($"Message type '{attribute.WireName}' is claimed by both {existing.Type.Name} and {type.Name}.");
                byWire[attribute.WireName] = info;
                byType[type] = (attribute.WireName, info);
            }
        }
        _byWireName = byWire.ToFrozenDictionary(StringComparer.Ordinal);
        _byType = byType.ToFrozenDictionary();
    }

    public IEnumerable<string> WireNames => _byWireName.Keys;

    public string WireNameOf(Type type) => Lookup(type).WireName;

    public byte[] Serialize(object message)
    {
        var (_, info) = Lookup(message.GetType());
        return JsonSerializer.SerializeToUtf8Bytes(message, info);
    }

    /// <summary>Deserializes a body; null type info means the type is unknown here.</summary>
    public bool TryGetType(string wireName, out JsonTypeInfo info) => _byWireName.TryGetValue(wireName, out info!);

    public static object Deserialize(ReadOnlySpan<byte> body, JsonTypeInfo info) =>
        JsonSerializer.Deserialize(body, info) ?? throw new JsonException("The message body is JSON null.");

    private (string WireName, JsonTypeInfo Info) Lookup(Type type) =>
        _byType.TryGetValue(type, out var entry) ? entry
            : throw new InvalidOperationException($"{type.Name} is not a registered message contract (needs [MessageType] and a JsonSerializerContext passed to AddMessaging).");

    /// <summary>Contracts live beside their JSON context: every [MessageType] in its assembly.</summary>
    private static IEnumerable<Type> ContractTypes(JsonSerializerContext context) =>
        context.GetType().Assembly.GetTypes().Where(t => t.GetCustomAttribute<MessageTypeAttribute>() is not null);
}
