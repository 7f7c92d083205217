using System.Security.Cryptography;
using System.Text;

namespace SagaAspire.Deployment.Tests.Kustomize;

/// <summary>
/// Renders a kustomization as <c>kubectl kustomize</c> does, for the part of kustomize that
/// deploy/k8s uses: resources (files and folders), namespace, images, replicas, patches (strategic
/// merge, the target named by the patch itself), ConfigMap and Secret generators (literals, envs,
/// files; create and merge) with kustomize's name-suffix hash, and the rewriting of references to
/// generated names. Anything else in a kustomization is refused rather than ignored, so the tests
/// never check a rendering that differs from the real one; where kubectl is installed, a test
/// compares the two (<c>the_test_renderer</c>).
/// </summary>
internal static class Kustomizer
{
    private static readonly HashSet<string> KnownFields =
        ["apiVersion", "kind", "resources", "namespace", "images", "replicas", "configMapGenerator", "secretGenerator", "generatorOptions", "patches"];

    private static readonly HashSet<string> ClusterScopedKinds =
        ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass", "PriorityClass"];

    private static readonly HashSet<string> PodTemplateKinds = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"];

    public static IReadOnlyList<Resource> Render(string directory)
    {
        var resources = Build(Path.GetFullPath(directory));
        var renamed = new Dictionary<(string Kind, string Name), string>();
        foreach (var resource in resources.Where(r => r.NeedsHash))
        {
            var name = resource.Name;
            var hashed = $"{name}-{Hash(resource)}";
            renamed[(resource.Kind, name)] = hashed;
            resource.Metadata["name"] = hashed;
        }
        foreach (var resource in resources.Where(r => PodTemplateKinds.Contains(r.Kind)))
            RewriteReferences(resource.PodSpec(), renamed);
        return resources;
    }

    private static List<Resource> Build(string directory)
    {
        var file = Path.Combine(directory, "kustomization.yaml");
        var kustomization = Yaml.ReadDocument(File.ReadAllText(file));
        foreach (var field in kustomization.Keys.Where(k => !KnownFields.Contains(k)))
            throw new NotSupportedException($"{file}: the tests' kustomize renderer does not implement '{field}'; implement it in {nameof(Kustomizer)} or do without it.");

        var resources = new List<Resource>();
        foreach (var entry in Strings(kustomization, "resources"))
        {
            var path = Path.GetFullPath(Path.Combine(directory, entry));
            if (Directory.Exists(path)) resources.AddRange(Build(path));
            else resources.AddRange(Yaml.ReadDocuments(File.ReadAllText(path)).Select(d => new Resource(d)));
        }

        var options = Map(kustomization, "generatorOptions");
        foreach (var key in options?.Keys.Where(k => k != "disableNameSuffixHash") ?? [])
            throw new NotSupportedException($"{file}: generatorOptions.{key} is not implemented by the tests' renderer.");
        var hash = options?.GetValueOrDefault("disableNameSuffixHash") as string != "true";
        foreach (var generator in Maps(kustomization, "configMapGenerator")) Generate(resources, "ConfigMap", generator, directory, hash);
        foreach (var generator in Maps(kustomization, "secretGenerator")) Generate(resources, "Secret", generator, directory, hash);

        foreach (var patch in Maps(kustomization, "patches"))
        {
            if (patch.Keys.Any(k => k != "path"))
                throw new NotSupportedException($"{file}: only patches with a path (a strategic merge patch naming its target) are implemented by the tests' renderer.");
            foreach (var document in Yaml.ReadDocuments(File.ReadAllText(Path.Combine(directory, (string)patch["path"]!))))
            {
                var target = new Resource(document);
                var matches = resources.Where(r => r.Kind == target.Kind && r.Name == target.Name).ToList();
                if (matches.Count != 1) throw new InvalidDataException($"{file}: patch {patch["path"]} matches {matches.Count} resources, not one");
                StrategicMerge.Apply(matches[0].Object, document);
            }
        }

        if (kustomization.GetValueOrDefault("namespace") is string ns)
            foreach (var resource in resources.Where(r => !ClusterScopedKinds.Contains(r.Kind)))
                resource.Metadata["namespace"] = ns;

        foreach (var image in Maps(kustomization, "images")) SetImage(resources, image);

        foreach (var replicas in Maps(kustomization, "replicas"))
        {
            var targets = resources.Where(r => r.Name == (string)replicas["name"]! && r.Object.GetValueOrDefault("spec") is Dictionary<string, object?> spec && spec.ContainsKey("replicas")).ToList();
            if (targets.Count == 0) throw new InvalidDataException($"{file}: replicas names {replicas["name"]}, which has no spec.replicas");
            foreach (var target in targets) ((Dictionary<string, object?>)target.Object["spec"]!)["replicas"] = replicas["count"];
        }
        return resources;
    }

    private static void Generate(List<Resource> resources, string kind, Dictionary<string, object?> generator, string directory, bool hash)
    {
        foreach (var key in generator.Keys.Where(k => k is not ("name" or "behavior" or "literals" or "envs" or "files" or "type")))
            throw new NotSupportedException($"{directory}: {kind} generator field '{key}' is not implemented by the tests' renderer.");
        var name = (string)generator["name"]!;
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var literal in Strings(generator, "literals"))
        {
            var (key, value) = SplitAssignment(literal);
            data[key] = Unquote(value);
        }
        foreach (var envFile in Strings(generator, "envs"))
        {
            foreach (var line in File.ReadAllLines(Path.Combine(directory, envFile)))
            {
                var trimmed = line.TrimStart();
                if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
                var (key, value) = SplitAssignment(trimmed);
                data[key] = value;
            }
        }
        foreach (var source in Strings(generator, "files"))
        {
            var (key, path) = source.Contains('=', StringComparison.Ordinal) ? SplitAssignment(source) : (Path.GetFileName(source), source);
            data[key] = File.ReadAllText(Path.Combine(directory, path));
        }

        var behavior = generator.GetValueOrDefault("behavior") as string ?? "create";
        var existing = resources.SingleOrDefault(r => r.Kind == kind && r.Name == name);
        switch (behavior)
        {
            case "create" when existing is null:
                resources.Add(Resource.Generated(kind, name, Encode(kind, data), generator.GetValueOrDefault("type") as string, hash));
                break;
            case "merge" when existing is not null:
                var merged = (Dictionary<string, object?>)existing.Object["data"]!;
                foreach (var (key, value) in Encode(kind, data)) merged[key] = value;
                break;
            case "replace" when existing is not null:
                existing.Object["data"] = Encode(kind, data);
                break;
            default:
                throw new InvalidDataException($"{directory}: {kind} {name} with behavior {behavior} {(existing is null ? "has nothing to act on" : "exists already")}");
        }
    }

    private static Dictionary<string, object?> Encode(string kind, Dictionary<string, string> data) =>
        data.ToDictionary(e => e.Key, e => (object?)(kind == "Secret" ? Base64Lines(e.Value) : e.Value), StringComparer.Ordinal);

    /// <summary>Base64 as kustomize writes a Secret's value: in lines of 70, each ending in a newline, once it needs two lines.</summary>
    private static string Base64Lines(string value)
    {
        const int lineLength = 70;
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(value));
        if (encoded.Length / lineLength + 1 == 1) return encoded;
        var lines = new StringBuilder();
        for (var i = 0; i < encoded.Length; i += lineLength)
            lines.Append(encoded.AsSpan(i, Math.Min(lineLength, encoded.Length - i))).Append('\n');
        return lines.ToString();
    }

    private static void SetImage(List<Resource> resources, Dictionary<string, object?> image)
    {
        var name = (string)image["name"]!;
        foreach (var container in resources.Where(r => PodTemplateKinds.Contains(r.Kind)).SelectMany(r => r.Containers()))
        {
            var current = (string)container["image"]!;
            var (repository, tag) = ImageReference.Split(current);
            if (repository != name) continue;
            var newName = image.GetValueOrDefault("newName") as string ?? repository;
            var newTag = image.GetValueOrDefault("newTag") as string ?? tag;
            container["image"] = newTag is null ? newName : $"{newName}:{newTag}";
        }
    }

    private static void RewriteReferences(Dictionary<string, object?> podSpec, Dictionary<(string Kind, string Name), string> renamed)
    {
        void Rename(Dictionary<string, object?>? reference, string kind, string field = "name")
        {
            if (reference?.GetValueOrDefault(field) is string name && renamed.TryGetValue((kind, name), out var newName)) reference[field] = newName;
        }
        foreach (var container in Resource.ContainersOf(podSpec))
        {
            foreach (var env in Maps(container, "env"))
            {
                var from = Map(env, "valueFrom");
                Rename(Map(from, "configMapKeyRef"), "ConfigMap");
                Rename(Map(from, "secretKeyRef"), "Secret");
            }
            foreach (var envFrom in Maps(container, "envFrom"))
            {
                Rename(Map(envFrom, "configMapRef"), "ConfigMap");
                Rename(Map(envFrom, "secretRef"), "Secret");
            }
        }
        foreach (var volume in Maps(podSpec, "volumes"))
        {
            Rename(Map(volume, "configMap"), "ConfigMap");
            Rename(Map(volume, "secret"), "Secret", "secretName");
        }
        foreach (var pullSecret in Maps(podSpec, "imagePullSecrets")) Rename(pullSecret, "Secret");
    }

    /// <summary>
    /// kustomize's suffix: SHA-256 of kind, name, data (and a Secret's type) encoded as Go's
    /// encoding/json would, ten hex digits, some swapped for letters. The name is always empty:
    /// kustomize 5 looks it up by a path it never finds (measured against kubectl kustomize).
    /// </summary>
    private static string Hash(Resource resource)
    {
        var encoded = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["kind"] = resource.Kind,
            ["name"] = "",
            ["data"] = resource.Object.GetValueOrDefault("data") ?? new Dictionary<string, object?>(),
        };
        if (resource.Kind == "Secret") encoded["type"] = resource.Object.GetValueOrDefault("type") ?? "Opaque";
        var json = new StringBuilder();
        GoJson.Write(json, encoded);
        var hex = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json.ToString())));
        return new string(hex[..10].Select(c => c switch { '0' => 'g', '1' => 'h', '3' => 'k', 'a' => 'm', 'e' => 't', _ => c }).ToArray());
    }

    private static (string Key, string Value) SplitAssignment(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0) throw new InvalidDataException($"'{text}' is not KEY=VALUE");
        return (text[..equals].Trim(), text[(equals + 1)..]);
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0] ? value[1..^1] : value;

    internal static Dictionary<string, object?>? Map(Dictionary<string, object?>? map, string key) =>
        map?.GetValueOrDefault(key) as Dictionary<string, object?>;

    internal static IEnumerable<Dictionary<string, object?>> Maps(Dictionary<string, object?>? map, string key) =>
        (map?.GetValueOrDefault(key) as List<object?>)?.OfType<Dictionary<string, object?>>() ?? [];

    internal static IEnumerable<string> Strings(Dictionary<string, object?>? map, string key) =>
        (map?.GetValueOrDefault(key) as List<object?>)?.OfType<string>() ?? [];
}
