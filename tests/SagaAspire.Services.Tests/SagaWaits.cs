using System.Net.Http.Json;
using System.Text.Json;

namespace SagaAspire.Services.Tests;

/// <summary>Polls the orchestrator's sagas API until a saga is as a test expects.</summary>
internal static class SagaWaits
{
    public static async Task<JsonElement> WaitForAsync(HttpClient client, string sagaId, Func<JsonElement, bool> condition)
    {
        for (var i = 0; i < 300; i++)
        {
            var response = await client.GetAsync($"/sagas/{sagaId}");
            if (response.IsSuccessStatusCode)
            {
                var saga = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (condition(saga)) return saga;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Saga {sagaId} did not reach the expected state");
    }
}
