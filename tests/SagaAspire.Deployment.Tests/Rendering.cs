using SagaAspire.Deployment.Tests.Kustomize;

namespace SagaAspire.Deployment.Tests;

/// <summary>Where a container's setting comes from.</summary>
internal enum SettingSource { Plain, ConfigMap, Secret, Field }

/// <summary>
/// One environment variable of a container as Kubernetes resolves it. <see cref="Value"/> is null
/// when it comes from a Secret that is not in the rendering (the operator creates it).
/// </summary>
internal sealed record Setting(string Name, string? Value, SettingSource Source, string? From = null, string? Key = null, bool Optional = false);

/// <summary>An overlay's objects, and what a service's container would see.</summary>
internal sealed class Rendering(string overlay, IReadOnlyList<Resource> resources)
{
    public string Overlay { get; } = overlay;

    public IReadOnlyList<Resource> Resources { get; } = resources;

    public IEnumerable<Resource> OfKind(string kind) => Resources.Where(r => r.Kind == kind);

    public Resource? Find(string kind, string name) => Resources.SingleOrDefault(r => r.Kind == kind && r.Name == name);

    public Resource Deployment(string name) => Find("Deployment", name) ?? throw new InvalidDataException($"{Overlay}: no Deployment {name}");

    public IEnumerable<Resource> Workloads() => Resources.Where(r => r.Kind is "Deployment" or "StatefulSet" or "Job");

    /// <summary>The container named after the service in its Deployment.</summary>
    public Dictionary<string, object?> Container(string service) =>
        Deployment(service).Containers().SingleOrDefault(c => (string?)c["name"] == service)
        ?? throw new InvalidDataException($"{Overlay}: Deployment {service} has no container named {service}");

    /// <summary>
    /// The container's environment: envFrom in order, then env (which wins), as Kubernetes builds
    /// it. Values from the ConfigMaps and Secrets of this rendering are filled in.
    /// </summary>
    public IReadOnlyDictionary<string, Setting> Environment(Dictionary<string, object?> container)
    {
        var settings = new Dictionary<string, Setting>(StringComparer.Ordinal);
        foreach (var source in Kustomizer.Maps(container, "envFrom"))
        {
            if (Kustomizer.Map(source, "configMapRef") is { } configMap)
            {
                var name = (string)configMap["name"]!;
                foreach (var (key, value) in Find("ConfigMap", name)?.Data() ?? new Dictionary<string, string>())
                    settings[key] = new Setting(key, value, SettingSource.ConfigMap, name, key);
            }
            if (Kustomizer.Map(source, "secretRef") is { } secret)
            {
                var name = (string)secret["name"]!;
                foreach (var (key, value) in Find("Secret", name)?.Data() ?? new Dictionary<string, string>())
                    settings[key] = new Setting(key, value, SettingSource.Secret, name, key);
            }
        }
        foreach (var env in Kustomizer.Maps(container, "env"))
        {
            var name = (string)env["name"]!;
            var from = Kustomizer.Map(env, "valueFrom");
            settings[name] = from switch
            {
                null => new Setting(name, env.GetValueOrDefault("value") as string ?? "", SettingSource.Plain),
                _ when Kustomizer.Map(from, "secretKeyRef") is { } secret => Reference(name, secret, "Secret", SettingSource.Secret),
                _ when Kustomizer.Map(from, "configMapKeyRef") is { } configMap => Reference(name, configMap, "ConfigMap", SettingSource.ConfigMap),
                _ => new Setting(name, null, SettingSource.Field),
            };
        }
        return settings;
    }

    private Setting Reference(string name, Dictionary<string, object?> reference, string kind, SettingSource source)
    {
        var from = (string)reference["name"]!;
        var key = (string)reference["key"]!;
        var value = Find(kind, from)?.Data().GetValueOrDefault(key);
        return new Setting(name, value, source, from, key, reference.GetValueOrDefault("optional") as string == "true");
    }

    /// <summary>Every Secret a workload refers to: (workload, secret name, key or null for all of it, optional).</summary>
    public IEnumerable<(Resource Workload, string Secret, string? Key, bool Optional)> SecretReferences()
    {
        foreach (var workload in Workloads())
        {
            foreach (var container in workload.Containers())
            {
                foreach (var env in Kustomizer.Maps(container, "env"))
                    if (Kustomizer.Map(Kustomizer.Map(env, "valueFrom"), "secretKeyRef") is { } secret)
                        yield return (workload, (string)secret["name"]!, (string)secret["key"]!, secret.GetValueOrDefault("optional") as string == "true");
                foreach (var envFrom in Kustomizer.Maps(container, "envFrom"))
                    if (Kustomizer.Map(envFrom, "secretRef") is { } secret)
                        yield return (workload, (string)secret["name"]!, null, secret.GetValueOrDefault("optional") as string == "true");
            }
            foreach (var volume in Kustomizer.Maps(workload.PodSpec(), "volumes"))
                if (Kustomizer.Map(volume, "secret") is { } secret)
                    yield return (workload, (string)secret["secretName"]!, null, secret.GetValueOrDefault("optional") as string == "true");
        }
    }

    /// <summary>Every ConfigMap a workload refers to: (workload, name, key or null for all of it, optional).</summary>
    public IEnumerable<(Resource Workload, string ConfigMap, string? Key, bool Optional)> ConfigMapReferences()
    {
        foreach (var workload in Workloads())
        {
            foreach (var container in workload.Containers())
            {
                foreach (var env in Kustomizer.Maps(container, "env"))
                    if (Kustomizer.Map(Kustomizer.Map(env, "valueFrom"), "configMapKeyRef") is { } configMap)
                        yield return (workload, (string)configMap["name"]!, (string)configMap["key"]!, configMap.GetValueOrDefault("optional") as string == "true");
                foreach (var envFrom in Kustomizer.Maps(container, "envFrom"))
                    if (Kustomizer.Map(envFrom, "configMapRef") is { } configMap)
                        yield return (workload, (string)configMap["name"]!, null, configMap.GetValueOrDefault("optional") as string == "true");
            }
            foreach (var volume in Kustomizer.Maps(workload.PodSpec(), "volumes"))
                if (Kustomizer.Map(volume, "configMap") is { } configMap)
                    yield return (workload, (string)configMap["name"]!, null, configMap.GetValueOrDefault("optional") as string == "true");
        }
    }

    /// <summary>The Service answering at <paramref name="host"/>:<paramref name="port"/> (a name of this namespace), and the workload behind it.</summary>
    public (Resource Service, Resource Workload, Dictionary<string, object?> Container)? Route(string host, int port)
    {
        if (Find("Service", host) is not { } service) return null;
        var servicePort = Kustomizer.Maps(service.Spec, "ports").FirstOrDefault(p => (string?)p["port"] == port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (servicePort is null) return null;
        var selector = (Kustomizer.Map(service.Spec, "selector") ?? []).ToDictionary(e => e.Key, e => (string)e.Value!);
        var workloads = Resources.Where(r => r.Kind is "Deployment" or "StatefulSet")
            .Where(w => selector.Count > 0 && selector.All(s => w.Labels(Kustomizer.Map(w.PodTemplate, "metadata")!).GetValueOrDefault(s.Key) == s.Value))
            .ToList();
        if (workloads.Count != 1) return null;
        var target = (string?)servicePort.GetValueOrDefault("targetPort") ?? (string)servicePort["port"]!;
        foreach (var container in workloads[0].Containers())
            if (Kustomizer.Maps(container, "ports").Any(p => (string?)p.GetValueOrDefault("name") == target || (string?)p["containerPort"] == target))
                return (service, workloads[0], container);
        return null;
    }
}
