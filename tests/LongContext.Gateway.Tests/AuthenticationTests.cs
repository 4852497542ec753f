using System.ClientModel;
using System.Net;
using LongContext.Gateway.Tests.Infrastructure;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class AuthenticationTests(GatewayFixture fixture)
{
    private const string ChatBody = """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""";

    private readonly GatewayInstance _gateway = fixture.Gateway;

    [Theory]
    [InlineData("POST", "/v1/chat/completions")]
    [InlineData("POST", "/v1/embeddings")]
    [InlineData("GET", "/v1/models")]
    [InlineData("GET", "/v1/models/gpt-test")]
    public async Task NoKey_Returns401InOpenAiShape(string method, string path)
    {
        using var http = _gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = ChatCompletionsTests.JsonContent(ChatBody);
        }

        using var response = await http.SendAsync(request);

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.Unauthorized, code: "missing_api_key");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task WrongKey_OpenAiSdk_Gets401()
    {
        var client = _gateway.Chat("gpt-test", "sk-not-a-tenant");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, error.Status);
        ErrorAssert.Parse(error.GetRawResponse()!.Content.ToString(), code: "invalid_api_key");
    }

    [Theory]
    [InlineData("Basic c2stYWNtZS10ZXN0LWtleTo=")]
    [InlineData("Bearer")]
    [InlineData("Bearer    ")]
    [InlineData("sk-acme-test-key")]
    [InlineData("Bearer sk-acme-test-key-but-longer")]
    [InlineData("Bearer SK-ACME-TEST-KEY")]
    public async Task MalformedOrWrongAuthorization_Returns401(string header)
    {
        using var http = _gateway.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using var response = await http.SendAsync(request);

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.Unauthorized);
        Assert.True(error.Code is "invalid_api_key" or "missing_api_key", error.Code);
    }

    [Fact]
    public async Task ModelNotAllowedForTenant_OpenAiSdk_Gets404ModelNotFound()
    {
        var client = _gateway.Chat("gpt-premium", GatewayConfig.GlobexKey);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(404, error.Status);
        var shape = ErrorAssert.Parse(error.GetRawResponse()!.Content.ToString(), code: "model_not_found", param: "model");
        Assert.Contains("gpt-premium", shape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModel_Gets404ModelNotFound_SameAnswerAsForbidden()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.GlobexKey);

        using var unknown = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"nope","messages":[{"role":"user","content":"hi"}]}"""));
        using var forbidden = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-premium","messages":[{"role":"user","content":"hi"}]}"""));

        var a = await ErrorAssert.IsOpenAiErrorAsync(unknown, HttpStatusCode.NotFound, code: "model_not_found");
        var b = await ErrorAssert.IsOpenAiErrorAsync(forbidden, HttpStatusCode.NotFound, code: "model_not_found");
        Assert.Equal(a.Message.Replace("nope", "X", StringComparison.Ordinal), b.Message.Replace("gpt-premium", "X", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AllowedModel_RestrictedTenant_IsServed()
    {
        var client = _gateway.Chat("gpt-test", GatewayConfig.GlobexKey);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("globex")]);

        Assert.Equal("echo: globex", completion.Content[0].Text);
    }
}
