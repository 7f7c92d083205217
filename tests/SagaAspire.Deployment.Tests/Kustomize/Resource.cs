namespace SagaAspire.Deployment.Tests.Kustomize;

/// <summary>One Kubernetes object of a rendering, as a YAML tree with a few typed views on it.</summary>
internal sealed class Resource(Dictionary<string, object?> obj)
{
    public Dictionary<string, object?> Object { get; } = obj;

    /// <summary>Made by a generator, so its name gets kustomize's content hash at the end.</summary>
    public bool NeedsHash { get; private init; }

    public string Kind => Object.GetValueOrDefault("kind") as string ?? throw new InvalidDataException("a resource without kind");

    public Dictionary<string, object?> Metadata => Object.GetValueOrDefault("metadata") as Dictionary<string, object?>
        ?? throw new InvalidDataException($"{Kind} without metadata");

    public string Name => Metadata.GetValueOrDefault("name") as string ?? throw new InvalidDataException($"{Kind} without a name");

    public string? Namespace => Metadata.GetValueOrDefault("namespace") as string;

    public Dictionary<string, object?> Spec => Kustomizer.Map(Object, "spec") ?? throw new InvalidDataException($"{Kind} {Name} has no spec");

    public Dictionary<string, object?> PodTemplate => Kustomizer.Map(Spec, "template") ?? throw new InvalidDataException($"{Kind} {Name} has no pod template");

    public Dictionary<string, object?> PodSpec() => Kustomizer.Map(PodTemplate, "spec") ?? throw new InvalidDataException($"{Kind} {Name} has no pod spec");

    public IEnumerable<Dictionary<string, object?>> Containers() => ContainersOf(PodSpec());

    /// <summary>A ConfigMap's data, or a Secret's decoded.</summary>
    public IReadOnlyDictionary<string, string> Data() =>
        (Kustomizer.Map(Object, "data") ?? []).ToDictionary(
            e => e.Key,
            e => Kind == "Secret" ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String((string)e.Value!)) : (string)e.Value!);

    public IReadOnlyDictionary<string, string> Labels(Dictionary<string, object?> metadata) =>
        (Kustomizer.Map(metadata, "labels") ?? []).ToDictionary(e => e.Key, e => (string)e.Value!);

    public static IEnumerable<Dictionary<string, object?>> ContainersOf(Dictionary<string, object?> podSpec) =>
        Kustomizer.Maps(podSpec, "initContainers").Concat(Kustomizer.Maps(podSpec, "containers"));

    public static Resource Generated(string kind, string name, Dictionary<string, object?> data, string? type, bool hash)
    {
        var obj = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["apiVersion"] = "v1",
            ["kind"] = kind,
            ["metadata"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["name"] = name },
            ["data"] = data,
        };
        if (kind == "Secret") obj["type"] = type ?? "Opaque";
        return new Resource(obj) { NeedsHash = hash };
    }

    public override string ToString() => $"{Kind}/{Name}";
}

/// <summary>An image reference split into repository and tag (a digest is not used here).</summary>
internal static class ImageReference
{
    public static (string Repository, string? Tag) Split(string image)
    {
        // A colon after the last slash separates the tag; one before it belongs to a registry port.
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, null);
    }
}
