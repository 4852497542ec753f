using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class BadInputTests(GatewayFixture fixture)
{
    private const int BodyLimit = 64 * 1024; // GatewayConfig's Gateway:Limits:MaxRequestBodyBytes

    private readonly GatewayInstance _gateway = fixture.Gateway;

    public static TheoryData<string, string, string?> BadChatBodies => new()
    {
        { """{"model":"gpt-test","messages":[""", "invalid_json", null },
        { """{"model":"gpt-test",}""", "invalid_json", null },
        { "model=gpt-test&messages=hi", "invalid_json", null },
        { "", "invalid_json", null },
        { """[{"model":"gpt-test"}]""", "invalid_json", null },
        { "\"just a string\"", "invalid_json", null },
        { """{"messages":[{"role":"user","content":"hi"}]}""", "missing_required_parameter", "model" },
        { """{"model":42,"messages":[{"role":"user","content":"hi"}]}""", "invalid_type", "model" },
        { """{"model":"","messages":[{"role":"user","content":"hi"}]}""", "invalid_value", "model" },
        { """{"model":"gpt-test"}""", "missing_required_parameter", "messages" },
        { """{"model":"gpt-test","messages":null}""", "missing_required_parameter", "messages" },
        { """{"model":"gpt-test","messages":"hi"}""", "invalid_type", "messages" },
        { """{"model":"gpt-test","messages":[]}""", "invalid_value", "messages" },
        { """{"model":"gpt-test","messages":["hi"]}""", "invalid_type", "messages[0]" },
        { """{"model":"gpt-test","messages":[{"content":"hi"}]}""", "invalid_type", "messages[0].role" },
        { """{"model":"gpt-test","messages":[{"role":"robot","content":"hi"}]}""", "invalid_value", "messages[0].role" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":42}]}""", "invalid_type", "messages[0].content" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "invalid_type", "stream" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", "invalid_value", "stream_options" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":[]}""", "invalid_type", "stream_options" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":"yes"}}""", "invalid_type", "stream_options.include_usage" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":-5}""", "invalid_value", "max_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "invalid_value", "max_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":99999999999999}""", "invalid_value", "max_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}""", "invalid_type", "max_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}""", "invalid_type", "max_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-1}""", "invalid_value", "max_completion_tokens" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"temperature":3}""", "invalid_value", "temperature" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "invalid_type", "temperature" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"top_p":-0.1}""", "invalid_value", "top_p" },
        { """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"n":0}""", "invalid_value", "n" },
    };

    [Theory]
    [MemberData(nameof(BadChatBodies))]
    public async Task Chat_BadBody_Returns400NamingTheProblem(string body, string code, string? param)
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, code);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal(param, error.Param);
    }

    [Fact]
    public async Task Chat_InvalidUtf8_Returns400InvalidJson()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        byte[] body = [.. "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xC3, 0x28, 0xFF, .. "\"}]}"u8];

        using var response = await http.PostAsync("/v1/chat/completions", new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "invalid_json");
    }

    [Fact]
    public async Task Chat_NestingDeeperThanLimit_Returns400InvalidJson()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var deep = new string('[', 200) + new string(']', 200);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(
            $$"""{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"metadata":{{deep}}}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "invalid_json");
    }

    [Fact]
    public async Task Chat_BodyOverLimit_WithContentLength_Returns413()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(LargeBody()));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Fact]
    public async Task Chat_BodyOverLimit_Chunked_Returns413()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var content = new ChunkedContent(Encoding.UTF8.GetBytes(LargeBody()));

        using var response = await http.PostAsync("/v1/chat/completions", content);

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Fact]
    public async Task Chat_BodyJustUnderLimit_IsServed()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var filler = new string('a', BodyLimit - 200);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(
            $$"""{"model":"gpt-test","messages":[{"role":"user","content":"{{filler}}"}]}"""));

        response.EnsureSuccessStatusCode();
    }

    [Theory]
    [InlineData("GET", "/v1/chat/completions", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "/v1/models", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "/v1/completions/legacy", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("GET", "/v1/files/..%2F..%2Fetc%2Fpasswd", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("GET", "/not-the-api", HttpStatusCode.NotFound, "unknown_url")]
    public async Task UnknownRouteOrMethod_ReturnsOpenAiShapedError(string method, string path, HttpStatusCode status, string code)
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await ErrorAssert.IsOpenAiErrorAsync(response, status, code);
    }

    private static string LargeBody() =>
        $$"""{"model":"gpt-test","messages":[{"role":"user","content":"{{new string('x', BodyLimit + 1)}}"}]}""";

    /// <summary>Content with no length, so the client sends it chunked and the server cannot reject it up front.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
