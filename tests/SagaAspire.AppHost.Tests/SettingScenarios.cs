namespace SagaAspire.AppHost.Tests;

/// <summary>The AppHost started with a wrong or missing setting stops at once, naming it, without a stack trace.</summary>
public sealed class the_apphost_with_a_wrong_setting
{
    public static TheoryData<string[], string> WrongSettings => new()
    {
        { ["--SagaAspire:Infrastructure=clouds"], "SagaAspire:Infrastructure is 'clouds'; it takes containers, embedded or existing." },
        { ["--SagaAspire:Infrastructure=containers"], "SagaAspire:Infrastructure=containers, but no container runtime answers: sagaaspire-no-such-runtime: not installed. Start Docker or Podman" },
        { ["--SagaAspire:Infrastructure=embedded", "--SagaAspire:PostgresBinaries=/no/such/folder"], "(SagaAspire:PostgresBinaries=/no/such/folder). PostgreSQL server binaries (initdb, postgres) were not found in /no/such/folder." },
        { ["--SagaAspire:Infrastructure=existing"], "SagaAspire:Infrastructure=existing uses your own servers: set ConnectionStrings:kafka" },
        { ["--SagaAspire:Infrastructure=existing", "--ConnectionStrings:kafka=localhost:9092"], "set ConnectionStrings:postgres" },
        { ["--SagaAspire:Infrastructure=existing", "--ConnectionStrings:kafka=localhost", "--ConnectionStrings:postgres=Host=localhost"], "ConnectionStrings:kafka is 'localhost'; it takes host:port[,host:port]" },
        { ["--SagaAspire:Infrastructure=embedded", "--SagaAspire:Replicas=order=0"], "SagaAspire:Replicas: the number of replicas is a whole number from 1 to 8, not '0'." },
        { ["--SagaAspire:Infrastructure=embedded", "--SagaAspire:BasePort=http"], "SagaAspire:BasePort is 'http'; it takes a whole number from 0 to 65531." },
        { ["--SagaAspire:Infrastructure=embedded", "--SagaAspire:PersistData=sometimes"], "SagaAspire:PersistData is 'sometimes'; it takes true or false." },
        { ["--SagaAspire:Infrastructure=embedded", "--SagaAspire:TraceSampling=0"], "SagaAspire:TraceSampling is '0'; it takes a share above 0 and at most 1 (0.1: one saga in ten)." },
    };

    [Theory]
    [MemberData(nameof(WrongSettings))]
    public async Task stops_with_a_message_naming_the_setting(string[] settings, string message)
    {
        // A runtime no machine has, so that "no container runtime answers" holds on machines with Docker too.
        using var apphost = AppHostProcess.Start(settings, new Dictionary<string, string> { ["ASPIRE_CONTAINER_RUNTIME"] = "sagaaspire-no-such-runtime" });

        var exitCode = await apphost.WaitForExitAsync(TimeSpan.FromSeconds(60));

        exitCode.ShouldBe(2, apphost.Output);
        apphost.Output.ShouldContain(message, Case.Sensitive, apphost.Output);
        apphost.Output.ShouldNotContain("   at ", Case.Sensitive, "no stack trace");
        apphost.Output.ShouldNotContain("Distributed application starting", Case.Sensitive, "nothing was started");
    }

    [Fact]
    public async Task stops_when_a_services_port_is_taken()
    {
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;
        // The squatter holds the first port checked (the order service's, the base port itself):
        // a port below it may belong to any other process by chance and would be named first.
        using var apphost = AppHostProcess.Start(["--SagaAspire:Infrastructure=embedded", $"--SagaAspire:BasePort={taken}"]);

        (await apphost.WaitForExitAsync(TimeSpan.FromSeconds(60))).ShouldBe(2, apphost.Output);
        apphost.Output.ShouldContain($"Port {taken} (order) is taken; another SagaAspire may be running. Stop it, or move the services with SagaAspire:BasePort=<n>");
    }
}
