using System.Net;
using System.Net.Sockets;

namespace SagaAspire.Embedded;

/// <summary>Ports on 127.0.0.1 for the processes and servers a host starts.</summary>
public static class LoopbackPorts
{
    /// <summary>A port free right now (another process could still take it before it is used).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
