using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class ChatCompletionsTests(GatewayFixture fixture)
{
    private readonly GatewayInstance _gateway = fixture.Gateway;
    private readonly StubUpstream _stub = fixture.Stub;

    [Fact]
    public async Task Chat_OpenAiSdk_ReturnsUpstreamAnswer()
    {
        var marker = Guid.NewGuid().ToString("N");
        var client = _gateway.Chat("gpt-test", GatewayConfig.AcmeKey);

        ChatCompletion completion = await client.CompleteChatAsync([new SystemChatMessage("be brief"), new UserChatMessage(marker)]);

        Assert.Equal("echo: " + marker, completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(10, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Chat_ModelAlias_UpstreamReceivesItsOwnModelIdAndUnchangedFields()
    {
        var marker = Guid.NewGuid().ToString("N");
        var client = _gateway.Chat("gpt-premium", GatewayConfig.AcmeKey);

        await client.CompleteChatAsync([new UserChatMessage(marker)], new ChatCompletionOptions { Temperature = 0.25f, MaxOutputTokenCount = 42 });

        var received = _stub.LastRequestWith(marker);
        Assert.Equal("/v1/chat/completions", received.Path);
        var body = JsonNode.Parse(received.Body)!;
        Assert.Equal("stub-premium", (string?)body["model"]);
        Assert.Equal(0.25, (double)body["temperature"]!, 3);
        Assert.Equal(marker, (string?)body["messages"]![0]!["content"]);
    }

    [Fact]
    public async Task Chat_Credentials_TenantKeyStaysInGatewayAndUpstreamKeyIsSent()
    {
        var marker = Guid.NewGuid().ToString("N");
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent($$"""{"model":"gpt-test","messages":[{"role":"user","content":"{{marker}}"}]}"""),
        };
        request.Headers.Add("OpenAI-Organization", "org-client");

        using var response = await http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var received = _stub.LastRequestWith(marker);
        Assert.Equal("Bearer " + StubUpstream.ApiKey, received.Headers["Authorization"]);
        Assert.DoesNotContain(received.Headers.Values, value => value.Contains(GatewayConfig.AcmeKey, StringComparison.Ordinal));
        Assert.False(received.Headers.ContainsKey("OpenAI-Organization"));
    }

    [Fact]
    public async Task Chat_UpstreamError_PassesThroughWithItsStatusAndBody()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", JsonContent("""{"model":"limited","messages":[{"role":"user","content":"hi"}]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, System.Net.HttpStatusCode.TooManyRequests, code: "rate_limit_exceeded");
        Assert.Equal("Slow down.", error.Message);
    }

    internal static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
