namespace SagaAspire.Deployment.Tests.Kustomize;

/// <summary>
/// Kubernetes' strategic merge patch, for the fields a pod template uses: mappings merge, a null
/// removes a key, and lists with a merge key (containers and env by name, container ports by
/// containerPort, ...) merge item by item; every other list is replaced. Patch directives
/// (<c>$patch</c>, <c>$retainKeys</c>, ...) are refused.
/// </summary>
internal static class StrategicMerge
{
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["imagePullSecrets"] = "name",
        ["volumeMounts"] = "mountPath",
        ["topologySpreadConstraints"] = "topologyKey",
    };

    public static void Apply(Dictionary<string, object?> target, Dictionary<string, object?> patch)
    {
        foreach (var (key, value) in patch)
        {
            if (key.StartsWith('$')) throw new NotSupportedException($"patch directive {key} is not implemented by the tests' renderer");
            if (value is null) target.Remove(key);
            else target[key] = target.TryGetValue(key, out var existing) ? Merge(key, existing, value) : Yaml.Clone(value);
        }
    }

    private static object? Merge(string field, object? target, object patch)
    {
        switch (target, patch)
        {
            case (Dictionary<string, object?> targetMap, Dictionary<string, object?> patchMap):
                Apply(targetMap, patchMap);
                return targetMap;
            case (List<object?> targetList, List<object?> patchList) when MergeKey(field, patchList) is { } key:
                var added = new List<object?>();
                foreach (var item in patchList.Cast<Dictionary<string, object?>>())
                {
                    var match = targetList.OfType<Dictionary<string, object?>>().FirstOrDefault(t => Equals(t.GetValueOrDefault(key), item[key]));
                    if (match is null) added.Add(Yaml.Clone(item));
                    else Apply(match, item);
                }
                // kustomize puts new items before the existing ones (so an added env variable
                // cannot refer to the base's variables with $(NAME)).
                targetList.InsertRange(0, added);
                return targetList;
            default:
                return Yaml.Clone(patch);
        }
    }

    private static string? MergeKey(string field, List<object?> items)
    {
        // A pod's container ports merge by containerPort; a Service's ports by port.
        var key = field == "ports"
            ? items.OfType<Dictionary<string, object?>>().All(i => i.ContainsKey("containerPort")) ? "containerPort" : "port"
            : MergeKeys.GetValueOrDefault(field);
        return key is not null && items.All(i => i is Dictionary<string, object?> map && map.ContainsKey(key)) ? key : null;
    }
}
