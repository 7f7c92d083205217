using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace SagaAspire.Embedded;

/// <summary>
/// Turns off Nagle's algorithm on this process's listening sockets for given ports, so that
/// connections accepted later inherit TCP_NODELAY. Kafka brokers answer without Nagle delays; the
/// mock cluster's sockets would otherwise hold small responses back until the client's delayed
/// ACK (about 40 ms), which no real broker does.
/// </summary>
internal static partial class ListenerSockets
{
    private const int AfInet = 2;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;

    public static int DisableNagle(IReadOnlyCollection<int> ports)
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc/self/fd")) return 0;
        var changed = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var fd)) continue;
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }
            if (target is null || !target.StartsWith("socket:", StringComparison.Ordinal)) continue;
            if (LocalPort(fd) is { } port && ports.Contains(port))
            {
                var one = 1;
                if (setsockopt(fd, IpProtoTcp, TcpNoDelay, ref one, sizeof(int)) == 0) changed++;
            }
        }
        return changed;
    }

    private static int? LocalPort(int fd)
    {
        Span<byte> address = stackalloc byte[128];
        var length = address.Length;
        if (getsockname(fd, ref MemoryMarshal.GetReference(address), ref length) != 0) return null;
        if (BinaryPrimitives.ReadUInt16LittleEndian(address) != AfInet) return null;
        return BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockname(int fd, ref byte address, ref int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int option, ref int value, int length);
}
