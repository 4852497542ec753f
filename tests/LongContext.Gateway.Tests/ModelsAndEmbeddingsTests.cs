using System.ClientModel;
using System.Net;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class ModelsAndEmbeddingsTests(GatewayFixture fixture)
{
    private readonly GatewayInstance _gateway = fixture.Gateway;
    private readonly StubUpstream _stub = fixture.Stub;

    [Fact]
    public async Task Models_TenantWithWildcard_SeesEveryConfiguredModel()
    {
        var models = (await _gateway.Models(GatewayConfig.AcmeKey).GetModelsAsync()).Value;

        Assert.Equal(["auto", "embed-test", "gpt-premium", "gpt-test", "hanging", "limited"], models.Select(m => m.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Models_RestrictedTenant_SeesOnlyItsModels()
    {
        var models = (await _gateway.Models(GatewayConfig.GlobexKey).GetModelsAsync()).Value;

        // The auto model lets routing choose among the tenant's models; it opens no others.
        Assert.Equal(["auto", "gpt-test"], models.Select(m => m.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Models_Get_ReturnsAllowedModelAndHidesOthers()
    {
        var client = _gateway.Models(GatewayConfig.GlobexKey);

        Assert.Equal("gpt-test", (await client.GetModelAsync("gpt-test")).Value.Id);
        var forbidden = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("gpt-premium"));
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("no-such-model"));

        Assert.Equal(404, forbidden.Status);
        Assert.Equal(404, unknown.Status);
        ErrorAssert.Parse(forbidden.GetRawResponse()!.Content.ToString(), code: "model_not_found", param: "model");
    }

    [Fact]
    public async Task Embeddings_OpenAiSdk_ReturnsUpstreamVectorsInOrder()
    {
        var client = _gateway.Embeddings("embed-test", GatewayConfig.AcmeKey);

        var embeddings = (await client.GenerateEmbeddingsAsync(["one", "three"])).Value;

        Assert.Equal(2, embeddings.Count);
        Assert.Equal([5f, 0f, 0.5f], embeddings[0].ToFloats().ToArray()); // "one" with its JSON quotes
        Assert.Equal([7f, 1f, 0.5f], embeddings[1].ToFloats().ToArray());
        Assert.Contains("\"model\":\"stub-embed\"", _stub.Received.Last(r => r.Path == "/v1/embeddings").Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embeddings_ChatModel_IsRejectedWith400()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/embeddings", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","input":"hello"}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, code: "invalid_value", param: "model");
    }

    [Fact]
    public async Task Chat_EmbeddingsModel_IsRejectedWith400()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"embed-test","messages":[{"role":"user","content":"hi"}]}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, code: "invalid_value", param: "model");
    }

    [Theory]
    [InlineData("""{"model":"embed-test"}""", "missing_required_parameter", "input")]
    [InlineData("""{"model":"embed-test","input":[]}""", "invalid_value", "input")]
    [InlineData("""{"model":"embed-test","input":{"text":"x"}}""", "invalid_type", "input")]
    [InlineData("""{"model":"embed-test","input":["a",1]}""", "invalid_type", "input")]
    [InlineData("""{"input":"x"}""", "missing_required_parameter", "model")]
    [InlineData("""{"model":"embed-test","input":"x","dimensions":0}""", "invalid_value", "dimensions")]
    public async Task Embeddings_BadInput_Returns400NamingTheParameter(string body, string code, string param)
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/embeddings", ChatCompletionsTests.JsonContent(body));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, code, param);
    }
}
