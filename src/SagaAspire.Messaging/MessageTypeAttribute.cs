namespace SagaAspire.Messaging;

/// <summary>
/// The wire identity of a message contract: a stable name and a version that do not depend on the
/// .NET type name, so a type can be renamed or moved without breaking consumers.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class MessageTypeAttribute(string name, int version = 1) : Attribute
{
    public string Name { get; } = name;
    public int Version { get; } = version;

    /// <summary>The value of the <c>message-type</c> header, for example <c>inventory.reserve.v1</c>.</summary>
    public string WireName => $"{Name}.v{Version}";
}
