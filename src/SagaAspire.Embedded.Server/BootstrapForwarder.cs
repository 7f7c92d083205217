using System.Net;
using System.Net.Sockets;

namespace SagaAspire.Embedded.Server;

/// <summary>
/// Bootstrap servers on a port chosen by whoever starts the broker. librdkafka's mock cluster
/// binds its broker to a port of its own choosing, so this forwards connections from the chosen
/// port to it. Only the first contact goes this way: the broker's metadata advertises its own
/// address, and clients then connect there directly, as they do with any Kafka cluster whose
/// bootstrap address is not a broker's.
/// </summary>
internal sealed class BootstrapForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _broker;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private BootstrapForwarder(TcpListener listener, IPEndPoint broker)
    {
        _listener = listener;
        _broker = broker;
        _accepting = AcceptAsync();
    }

    public static BootstrapForwarder Start(int port, string brokerBootstrapServers)
    {
        var first = brokerBootstrapServers.Split(',')[0];
        var broker = IPEndPoint.Parse(first);
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
        }
        catch (SocketException error)
        {
            throw new EmbeddedInfrastructureException($"Cannot listen for Kafka clients on 127.0.0.1:{port}: {error.Message}");
        }
        return new BootstrapForwarder(listener, broker);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or SocketException && _stop.IsCancellationRequested)
            {
                return;
            }
            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        using var _ = client;
        client.NoDelay = true;
        using var broker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await broker.ConnectAsync(_broker, _stop.Token);
        }
        catch (Exception error) when (error is SocketException or OperationCanceledException)
        {
            return; // the broker is down (an outage): the client sees its connection closed, as with a refused one
        }
        await using var fromClient = new NetworkStream(client, ownsSocket: false);
        await using var toBroker = new NetworkStream(broker, ownsSocket: false);
        var upstream = Pump(fromClient, toBroker, broker);
        var downstream = Pump(toBroker, fromClient, client);
        await Task.WhenAny(upstream, downstream);
        client.Close();
        broker.Close();
        await Task.WhenAll(upstream, downstream);
    }

    private async Task Pump(NetworkStream from, NetworkStream to, Socket target)
    {
        try
        {
            await from.CopyToAsync(to, _stop.Token);
            target.Shutdown(SocketShutdown.Send);
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // either side went away: the connection is over
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
