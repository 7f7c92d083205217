using System.Globalization;
using System.Text;

namespace SagaAspire.Deployment.Tests.Kustomize;

/// <summary>
/// JSON exactly as Go's encoding/json writes it (map keys sorted, &lt; &gt; &amp; escaped): kustomize
/// hashes that text, so the generated names match only when the bytes do.
/// </summary>
internal static class GoJson
{
    public static void Write(StringBuilder json, object? value)
    {
        switch (value)
        {
            case Dictionary<string, object?> map:
                json.Append('{');
                var first = true;
                foreach (var key in map.Keys.Order(StringComparer.Ordinal))
                {
                    if (!first) json.Append(',');
                    first = false;
                    WriteString(json, key);
                    json.Append(':');
                    Write(json, map[key]);
                }
                json.Append('}');
                break;
            case List<object?> list:
                json.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) json.Append(',');
                    Write(json, list[i]);
                }
                json.Append(']');
                break;
            case null:
                json.Append("null");
                break;
            default:
                WriteString(json, Convert.ToString(value, CultureInfo.InvariantCulture)!);
                break;
        }
    }

    private static void WriteString(StringBuilder json, string text)
    {
        json.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case '<' or '>' or '&' or '\u2028' or '\u2029' or < ' ':
                    json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: json.Append(c); break;
            }
        }
        json.Append('"');
    }
}
