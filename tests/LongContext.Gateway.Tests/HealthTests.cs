using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

[Collection(GatewayCollectionDefinition.Name)]
public sealed class HealthTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Healthz_NeedsNoKey_AndSaysAlive()
    {
        using var http = fixture.Gateway.CreateHttpClient();

        using var response = await http.GetAsync("/healthz");

        response.EnsureSuccessStatusCode();
        Assert.Equal("alive", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Readyz_AllUpstreamsAnswer_IsReady()
    {
        using var http = fixture.Gateway.CreateHttpClient();

        using var response = await http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ready", (string?)report["status"]);
        Assert.Equal("loaded", (string?)report["config"]);
        Assert.All(report["upstreams"]!.AsArray(), u => Assert.True((bool)u!["reachable"]!));
    }

    [Fact]
    public async Task Readyz_AnUpstreamUnreachable_Is503AndNamesIt()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        var port = UpstreamFailureTests.UnusedPort();
        config.Upstreams["down"] = GatewayConfig.Upstream($"http://127.0.0.1:{port}/v1/");
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient();

        using var response = await http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("unready", (string?)report["status"]);
        var down = report["upstreams"]!.AsArray().Single(u => (string?)u!["upstream"] == "down")!;
        Assert.False((bool)down["reachable"]!);
        Assert.Equal($"http://127.0.0.1:{port}/v1/", (string?)down["address"]);
        Assert.False(string.IsNullOrEmpty((string?)down["error"]));
        Assert.True(report["upstreams"]!.AsArray().Where(u => (string?)u!["upstream"] == "stub").All(u => (bool)u!["reachable"]!));
    }

    [Fact]
    public async Task ShippedDefaults_LoadAndPointAtTheSelfHostedBackend()
    {
        // The settings file and config/ shipped at the repository root, as copied beside the gateway binary.
        var ledger = Path.Combine(Path.GetTempPath(), $"lcg-defaults-{Guid.NewGuid():N}.db");
        // The hosted backend would take port 8081; SelfHostedBackendTests runs it on a free port.
        await using var app = GatewayInstance.Build(settingsPath: null, "--Ledger:SqlitePath", ledger, "--Corpora:Directory", ledger + ".corpora", "--Backend:Enabled", "false");
        await app.StartAsync();
        var address = app.Urls.Single();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "lcg-local-dev-key");

        var models = JsonNode.Parse(await http.GetStringAsync("/v1/models"))!;
        using var ready = await http.GetAsync("/readyz");

        Assert.Contains(models["data"]!.AsArray(), m => (string?)m!["id"] == "lcg-reference");
        var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        var upstreams = report.GetProperty("upstreams").EnumerateArray().ToList();
        var upstream = upstreams.Single(u => u.GetProperty("upstream").GetString() == "self-hosted");
        Assert.Equal("http://127.0.0.1:8081/v1/", upstream.GetProperty("address").GetString());
        Assert.Equal(upstream.GetProperty("reachable").GetBoolean() ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, ready.StatusCode);

        // Provider models ship as examples: without their keys they are out of use, say why, and do not make the gateway unready.
        var openai = upstreams.Single(u => u.GetProperty("upstream").GetString() == "openai");
        Assert.Contains("Upstreams__openai__ApiKey", openai.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(models["data"]!.AsArray(), m => (string?)m!["id"] == "gpt-5.2");
        Assert.Contains(models["data"]!.AsArray(), m => (string?)m!["id"] == "auto");
    }
}
