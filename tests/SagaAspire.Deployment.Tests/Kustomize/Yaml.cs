using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace SagaAspire.Deployment.Tests.Kustomize;

/// <summary>
/// YAML as plain trees: a mapping is a <see cref="Dictionary{TKey,TValue}"/> of string keys, a
/// sequence a <see cref="List{T}"/>, every scalar a string (so <c>3</c> and <c>"3"</c> compare equal,
/// as Kubernetes' own decoding mostly makes them).
/// </summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    public static List<Dictionary<string, object?>> ReadDocuments(string text)
    {
        var documents = new List<Dictionary<string, object?>>();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            if (Normalize(Deserializer.Deserialize<object?>(parser)) is Dictionary<string, object?> document)
                documents.Add(document);
        }
        return documents;
    }

    public static Dictionary<string, object?> ReadDocument(string text) =>
        ReadDocuments(text) is [var single] ? single : throw new InvalidDataException("expected exactly one YAML document");

    private static object? Normalize(object? value) => value switch
    {
        null => null,
        IDictionary<object, object?> map => map.ToDictionary(e => Convert.ToString(e.Key, CultureInfo.InvariantCulture)!, e => Normalize(e.Value), StringComparer.Ordinal),
        IList<object?> list => list.Select(Normalize).ToList(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    public static object? Clone(object? value) => value switch
    {
        Dictionary<string, object?> map => map.ToDictionary(e => e.Key, e => Clone(e.Value), StringComparer.Ordinal),
        List<object?> list => list.Select(Clone).ToList(),
        _ => value,
    };

    /// <summary>Structural equality; the order of a mapping's keys does not matter, a sequence's does.</summary>
    public static bool Equal(object? a, object? b) => (a, b) switch
    {
        (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
            x.Count == y.Count && x.All(e => y.TryGetValue(e.Key, out var other) && Equal(e.Value, other)),
        (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equal(p.First, p.Second)),
        _ => Equals(a, b),
    };

    public static string Show(object? value) => new SerializerBuilder().Build().Serialize(value);
}
