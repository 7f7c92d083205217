using System.Buffers.Binary;
using System.Text;

namespace SagaAspire.ServiceDefaults.Tests.Otlp;

/// <summary>
/// Decodes an OTLP <c>ExportTraceServiceRequest</c> straight from the protobuf wire format. Only the
/// fields a trace view needs are read; everything else is skipped, as protobuf allows.
/// </summary>
public static class OtlpTraceDecoder
{
    public static List<ReceivedSpan> Decode(ReadOnlySpan<byte> request)
    {
        var spans = new List<ReceivedSpan>();
        var reader = new WireReader(request);
        while (reader.Next(out var field, out var type))
        {
            if (field == 1 && type == WireType.Length) ReadResourceSpans(reader.Bytes(), spans);
            else reader.Skip(type);
        }
        return spans;
    }

    private static void ReadResourceSpans(ReadOnlySpan<byte> data, List<ReceivedSpan> spans)
    {
        // The resource may follow its spans on the wire, so spans are read once the name is known.
        var serviceName = "unknown_service";
        var scopeSpans = new List<Range>();
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            if (field == 1 && type == WireType.Length)
            {
                var resource = ReadAttributes(reader.Bytes(), attributesField: 1);
                if (resource.TryGetValue("service.name", out var name) && name is string s) serviceName = s;
            }
            else if (field == 2 && type == WireType.Length) scopeSpans.Add(reader.Range());
            else reader.Skip(type);
        }
        foreach (var range in scopeSpans) ReadScopeSpans(data[range], serviceName, spans);
    }

    private static void ReadScopeSpans(ReadOnlySpan<byte> data, string serviceName, List<ReceivedSpan> spans)
    {
        var scope = "";
        var pending = new List<Range>();
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            if (field == 1 && type == WireType.Length)
            {
                var scopeReader = new WireReader(reader.Bytes());
                while (scopeReader.Next(out var f, out var t))
                {
                    if (f == 1 && t == WireType.Length) scope = Encoding.UTF8.GetString(scopeReader.Bytes());
                    else scopeReader.Skip(t);
                }
            }
            else if (field == 2 && type == WireType.Length) pending.Add(reader.Range());
            else reader.Skip(type);
        }
        foreach (var range in pending) spans.Add(ReadSpan(data[range], serviceName, scope));
    }

    private static ReceivedSpan ReadSpan(ReadOnlySpan<byte> data, string serviceName, string scope)
    {
        string traceId = "", spanId = "", name = "";
        string? parent = null, statusMessage = null;
        var kind = SpanKind.Unspecified;
        var status = SpanStatus.Unset;
        ulong start = 0, end = 0;
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var events = new List<string>();
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            switch (field, type)
            {
                case (1, WireType.Length): traceId = Convert.ToHexStringLower(reader.Bytes()); break;
                case (2, WireType.Length): spanId = Convert.ToHexStringLower(reader.Bytes()); break;
                case (4, WireType.Length):
                    var p = reader.Bytes();
                    parent = p.IsEmpty ? null : Convert.ToHexStringLower(p);
                    break;
                case (5, WireType.Length): name = Encoding.UTF8.GetString(reader.Bytes()); break;
                case (6, WireType.Varint): kind = (SpanKind)reader.Varint(); break;
                case (7, WireType.Fixed64): start = reader.Fixed64(); break;
                case (8, WireType.Fixed64): end = reader.Fixed64(); break;
                case (9, WireType.Length): ReadKeyValue(reader.Bytes(), attributes); break;
                case (11, WireType.Length): events.Add(EventName(reader.Bytes())); break;
                case (15, WireType.Length):
                    var statusReader = new WireReader(reader.Bytes());
                    while (statusReader.Next(out var f, out var t))
                    {
                        if (f == 2 && t == WireType.Length) statusMessage = Encoding.UTF8.GetString(statusReader.Bytes());
                        else if (f == 3 && t == WireType.Varint) status = (SpanStatus)statusReader.Varint();
                        else statusReader.Skip(t);
                    }
                    break;
                default: reader.Skip(type); break;
            }
        }
        return new ReceivedSpan(serviceName, traceId, spanId, parent, name, kind, FromUnixNanos(start), FromUnixNanos(end),
            attributes, status, statusMessage, scope, events);
    }

    /// <summary>The name of a span event (Span.Event: name is field 2).</summary>
    private static string EventName(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            if (field == 2 && type == WireType.Length) return Encoding.UTF8.GetString(reader.Bytes());
            reader.Skip(type);
        }
        return "";
    }

    private static Dictionary<string, object?> ReadAttributes(ReadOnlySpan<byte> data, int attributesField)
    {
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            if (field == attributesField && type == WireType.Length) ReadKeyValue(reader.Bytes(), attributes);
            else reader.Skip(type);
        }
        return attributes;
    }

    private static void ReadKeyValue(ReadOnlySpan<byte> data, Dictionary<string, object?> into)
    {
        string? key = null;
        object? value = null;
        var reader = new WireReader(data);
        while (reader.Next(out var field, out var type))
        {
            if (field == 1 && type == WireType.Length) key = Encoding.UTF8.GetString(reader.Bytes());
            else if (field == 2 && type == WireType.Length) value = ReadAnyValue(reader.Bytes());
            else reader.Skip(type);
        }
        if (key is not null) into[key] = value;
    }

    private static object? ReadAnyValue(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data);
        object? value = null;
        while (reader.Next(out var field, out var type))
        {
            value = (field, type) switch
            {
                (1, WireType.Length) => Encoding.UTF8.GetString(reader.Bytes()),
                (2, WireType.Varint) => reader.Varint() != 0,
                (3, WireType.Varint) => (long)reader.Varint(),
                (4, WireType.Fixed64) => BitConverter.UInt64BitsToDouble(reader.Fixed64()),
                _ => SkipAndReturnNull(ref reader, type),
            };
        }
        return value;
    }

    private static object? SkipAndReturnNull(ref WireReader reader, WireType type)
    {
        reader.Skip(type);
        return null;
    }

    private static DateTimeOffset FromUnixNanos(ulong nanos) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));

    private enum WireType
    {
        Varint = 0,
        Fixed64 = 1,
        Length = 2,
        Fixed32 = 5,
    }

    /// <summary>Reads protobuf tags and values from a buffer.</summary>
    private ref struct WireReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public bool Next(out int field, out WireType type)
        {
            if (Position >= _data.Length)
            {
                field = 0;
                type = default;
                return false;
            }
            var tag = Varint();
            field = (int)(tag >> 3);
            type = (WireType)(tag & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = _data[Position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new FormatException("Malformed protobuf varint");
        }

        public ulong Fixed64()
        {
            var value = BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(Position, 8));
            Position += 8;
            return value;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = checked((int)Varint());
            var bytes = _data.Slice(Position, length);
            Position += length;
            return bytes;
        }

        /// <summary>Where the next length-delimited value lies, without reading it.</summary>
        public Range Range()
        {
            var length = checked((int)Varint());
            var start = Position;
            Position += length;
            return start..Position;
        }

        public void Skip(WireType type)
        {
            switch (type)
            {
                case WireType.Varint: Varint(); break;
                case WireType.Fixed64: Position += 8; break;
                case WireType.Length: Bytes(); break;
                case WireType.Fixed32: Position += 4; break;
                default: throw new FormatException($"Unsupported protobuf wire type {(int)type}");
            }
        }
    }
}
