using System.Net;

namespace SagaAspire.ServiceDefaults.Tests;

public sealed class error_answers
{
    [Theory]
    [InlineData("/boom", "secret internals")]            // an endpoint throws
    [InlineData("/twice", "AmbiguousMatchException")]    // routing itself fails: two endpoints match
    public async Task an_unexpected_failure_is_a_problem_without_a_stack_trace_even_in_development(string path, string internals)
    {
        await using var service = await MinimalService.StartAsync(new Dictionary<string, string?>());
        var response = await service.Client.GetAsync(new Uri(path, UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var body = await response.Content.ReadAsStringAsync();
        body.ShouldNotContain(internals);
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
