using LongContext.Gateway.Tests.Infrastructure;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class StreamingTests(GatewayFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly GatewayInstance _gateway = fixture.Gateway;
    private readonly StubUpstream _stub = fixture.Stub;

    [Fact]
    public async Task Stream_FirstChunkReachesClientWhileUpstreamIsStillStreaming()
    {
        var gate = "gate:" + Guid.NewGuid().ToString("N");
        var client = _gateway.Chat("gpt-test", GatewayConfig.AcmeKey);
        await using var updates = client.CompleteChatStreamingAsync([new UserChatMessage(gate)]).GetAsyncEnumerator();

        // The upstream holds the rest of its stream until released: a buffering proxy would never deliver this chunk.
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(Patience));
        var first = string.Concat(updates.Current.ContentUpdate.Select(part => part.Text));
        Assert.Equal("echo:", first);
        Assert.False(_stub.Finished(gate).IsCompleted);

        _stub.Release(gate);
        var rest = new List<StreamingChatCompletionUpdate>();
        while (await updates.MoveNextAsync().AsTask().WaitAsync(Patience))
        {
            rest.Add(updates.Current);
        }

        Assert.True(_stub.Finished(gate).IsCompleted);
        Assert.Equal("echo: " + gate, first + string.Concat(rest.SelectMany(u => u.ContentUpdate).Select(part => part.Text)));
        Assert.Contains(rest, update => update.FinishReason == ChatFinishReason.Stop);
    }

    [Fact]
    public async Task Stream_IncludeUsage_UsageChunkArrivesLast()
    {
        var marker = Guid.NewGuid().ToString("N");
        var client = _gateway.Chat("gpt-test", GatewayConfig.AcmeKey);

        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(marker)]))
        {
            updates.Add(update);
        }

        // The official SDK asks for stream_options.include_usage; the gateway must pass it and the usage chunk through.
        Assert.Contains("\"include_usage\":true", _stub.LastRequestWith(marker).Body.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        var usage = updates[^1].Usage;
        Assert.NotNull(usage);
        Assert.Equal(7, usage.InputTokenCount);
        Assert.Equal(3, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Stream_RawSse_IsServedAsEventStreamAndEndsWithDone()
    {
        var marker = Guid.NewGuid().ToString("N");
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(
            $$"""{"model":"gpt-test","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"{{marker}}"}]}"""));

        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        Assert.DoesNotContain("\"usage\"", text, StringComparison.Ordinal);
    }
}
