using System.Net;

namespace SagaAspire.ServiceDefaults.Tests;

public sealed class error_answers
{
    [Fact]
    public async Task an_unexpected_exception_is_a_problem_without_a_stack_trace_even_in_development()
    {
        await using var service = await MinimalService.StartAsync(new Dictionary<string, string?>());
        var response = await service.Client.GetAsync(new Uri("/boom", UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var body = await response.Content.ReadAsStringAsync();
        body.ShouldNotContain("secret internals");
        body.ShouldNotContain(" at ");
    }

    [Fact]
    public async Task a_failure_inside_routing_is_a_problem_without_a_stack_trace_even_in_development()
    {
        await using var service = await MinimalService.StartAsync(new Dictionary<string, string?>());
        var response = await service.Client.GetAsync(new Uri("/twice", UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var body = await response.Content.ReadAsStringAsync();
        body.ShouldNotContain("AmbiguousMatchException");
        body.ShouldNotContain(" at ");
    }

    [Fact]
    public async Task an_unknown_route_is_a_404_problem()
    {
        await using var service = await MinimalService.StartAsync(new Dictionary<string, string?>());
        var response = await service.Client.GetAsync(new Uri("/no-such-thing", UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }
}
