using System.Net;
using System.Net.Sockets;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class UpstreamFailureTests(GatewayFixture fixture)
{
    private readonly GatewayInstance _gateway = fixture.Gateway;

    [Fact]
    public async Task UpstreamSilentPastActivityTimeout_Returns504()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"hanging","messages":[{"role":"user","content":"hi"}]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.GatewayTimeout, "upstream_timeout");
        Assert.Contains("stub-impatient", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamDown_Returns502_AndGatewayKeepsServingOthers()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Upstreams["down"] = GatewayConfig.Upstream($"http://127.0.0.1:{UnusedPort()}/v1/");
        config.Models["offline"] = GatewayConfig.ChatModel("down", "offline", input: 1m, output: 2m, window: 128_000);
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var down = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"offline","messages":[{"role":"user","content":"hi"}]}"""));
        using var up = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"still here"}]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(down, HttpStatusCode.BadGateway, "upstream_unavailable");
        Assert.Equal("upstream_error", error.Type);
        up.EnsureSuccessStatusCode();
        Assert.Contains("echo: still here", await up.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>A port that was free a moment ago and has nothing listening on it.</summary>
    internal static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
