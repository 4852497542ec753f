using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.DependencyInjection;

namespace LongContext.Gateway.Tests;

/// <summary>
/// Hostile and odd requests beyond the bad bodies of <see cref="BadInputTests"/>: each gets a clear
/// 4xx in OpenAI's shape (or is served when it is merely odd), never a 5xx, and afterwards the
/// ledger holds no reservation and the gateway still serves.
/// </summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class HostileInputTests(GatewayFixture fixture)
{
    private const string Chat = "/v1/chat/completions";

    /// <summary>name → (method, path, body, extra header, expected status (0: any non-5xx), expected error code, expected param).</summary>
    private static readonly Dictionary<string, (string Method, string Path, string? Body, (string Name, string Value)? Header, int Status, string? Code, string? Param)> Cases = new()
    {
        ["duplicate-keys"] = ("POST", Chat, """{"model":"gpt-test","model":"gpt-premium","messages":[{"role":"user","content":"hi"}]}""", null, 400, "invalid_json", null),
        ["lone-surrogate"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"bad \ud800 half"}]}""", null, 400, "invalid_json", null),
        ["escaped-surrogate-pair"] = ("POST", Chat, """{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"fine \ud83d\ude00 pair"}]}""", null, 200, null, null),
        ["null-characters"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"a\u0000b\u0000c"}]}""", null, 200, null, null),
        ["overflowing-number"] = ("POST", Chat, """{"model":"gpt-test","max_tokens":1e400,"messages":[{"role":"user","content":"hi"}]}""", null, 400, null, null),
        ["fractional-max-tokens"] = ("POST", Chat, """{"model":"gpt-test","max_tokens":10.5,"messages":[{"role":"user","content":"hi"}]}""", null, 400, null, "max_tokens"),
        ["unknown-route"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"route":"teleport"}}""", null, 400, "invalid_value", "lcg.route"),
        ["route-wrong-type"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"route":["rag"]}}""", null, 400, "invalid_type", "lcg.route"),
        ["unknown-route-header"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""", ("X-LCG-Route", "teleport"), 400, "invalid_value", null),
        ["extension-not-object"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":5}""", null, 400, "invalid_type", "lcg"),
        ["documents-not-array"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"documents":7}}""", null, 400, "invalid_type", "lcg.documents"),
        ["document-wrong-type"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"documents":[{"text":5}]}}""", null, 400, "invalid_type", "lcg.documents[0]"),
        ["corpus-traversal"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"corpus":"../../etc/passwd"}}""", null, 404, "not_found", "lcg.corpus"),
        ["corpus-wrong-type"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"lcg":{"corpus":42}}""", null, 400, "invalid_type", "lcg.corpus"),
        ["corpus-header-traversal"] = ("POST", Chat, """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""", ("X-LCG-Corpus", "../vs_0000/../../x"), 404, "not_found", "lcg.corpus"),
        ["model-with-line-break"] = ("POST", Chat, """{"model":"gpt-test\r\nX-Injected: yes","messages":[{"role":"user","content":"hi"}]}""", null, 404, "model_not_found", null),
        ["model-name-10k"] = ("POST", Chat, $$"""{"model":"{{new string('m', 10_000)}}","messages":[{"role":"user","content":"hi"}]}""", null, 404, "model_not_found", null),
        ["ten-thousand-messages"] = ("POST", Chat, $$"""{"model":"gpt-test","max_tokens":5,"messages":[{{string.Join(",", Enumerable.Repeat("""{"role":"user","content":"x"}""", 10_000))}}]}""", null, 0, null, null),
        ["empty-object"] = ("POST", Chat, "{}", null, 400, "missing_required_parameter", "model"),
        ["json-null"] = ("POST", Chat, "null", null, 400, "invalid_json", null),
        ["text-plain-body"] = ("POST", Chat, "model=gpt-test", null, 400, "invalid_json", null),
        ["store-path-traversal"] = ("GET", "/v1/vector_stores/..%2F..%2Fetc%2Fpasswd", null, null, 404, null, null),
        ["store-dot-segments"] = ("DELETE", "/v1/vector_stores/vs_%2e%2e", null, null, 404, null, null),
        ["store-documents-traversal"] = ("POST", "/v1/vector_stores/%2e%2e%2f%2e%2e/documents", """{"documents":[{"text":"x"}]}""", null, 404, null, null),
        ["store-name-wrong-type"] = ("POST", "/v1/vector_stores", """{"name":{"$ne":1}}""", null, 400, null, null),
        ["embeddings-input-wrong-type"] = ("POST", "/v1/embeddings", """{"model":"embed-test","input":{"text":"x"}}""", null, 400, null, "input"),
        ["admin-api-with-tenant-key"] = ("GET", "/api/dashboard/tenants", null, null, 401, null, null),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task HostileRequest_GetsAClear4xxOrIsServed_NeverA5xx(string name)
    {
        var (method, path, body, header, status, code, param) = Cases[name];
        using var http = fixture.Gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, name == "text-plain-body" ? "text/plain" : "application/json");
        }

        if (header is { } extra)
        {
            request.Headers.TryAddWithoutValidation(extra.Name, extra.Value);
        }

        using var response = await http.SendAsync(request);

        Assert.True((int)response.StatusCode < 500, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.False(response.Headers.Contains("X-Injected"), "a header was injected into the response");
        if (status != 0)
        {
            if (status >= 400)
            {
                await ErrorAssert.IsOpenAiErrorAsync(response, (HttpStatusCode)status, code, param);
            }
            else
            {
                Assert.Equal((HttpStatusCode)status, response.StatusCode);
            }
        }
        else if ((int)response.StatusCode >= 400)
        {
            ErrorAssert.Parse(await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task AfterEveryHostileRequest_TheLedgerHoldsNothing_AndTheGatewayServes()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 5 };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        foreach (var (name, (method, path, body, header, _, _, _)) in Cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
            // Some cases end with the server closing the connection: each gets a fresh one, so the
            // next case never races a reused connection that is being closed.
            request.Headers.ConnectionClose = true;
            if (header is { } extra)
            {
                request.Headers.TryAddWithoutValidation(extra.Name, extra.Value);
            }

            using var response = await http.SendAsync(request);
            Assert.True((int)response.StatusCode < 500, name);
        }

        using var fine = await http.PostAsync(Chat, ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"still fine"}]}"""));
        fine.EnsureSuccessStatusCode();

        // What the month shows spent is exactly what the settled decisions cost: no reservation is left held.
        var ledger = gateway.Services.GetRequiredService<LedgerStore>();
        var decisions = await ledger.Decisions.ListAsync("acme", DateTimeOffset.UnixEpoch, 1000);
        var spent = (await ledger.Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow)).MonthUsd;
        Assert.Equal(decisions.Sum(d => d.ActualCostUsd ?? 0), spent);
        Assert.DoesNotContain(decisions, d => d.Status is not (DecisionStatuses.Completed or DecisionStatuses.Refused or DecisionStatuses.Failed));
    }

    [Fact]
    public async Task ClientHeaderForTheBackendsAttention_IsNotPassedUpstream()
    {
        using var http = fixture.Gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"attention smuggling"}]}""") };
        request.Headers.Add("X-LCG-Attention", "ring; drop table");

        using var response = await http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var received = fixture.Stub.LastRequestWith("attention smuggling");
        Assert.DoesNotContain(received.Headers.Keys, h => h.StartsWith("X-LCG-", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task ControlCharacterInAHeader_Is400_AndTheConnectionCloses()
    {
        var address = fixture.Gateway.BaseAddress;
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes($"GET /v1/models HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {GatewayConfig.AcmeKey}\r\nX-Evil: a\0b\r\n\r\n"));

        var answer = await ReadToEndAsync(stream);

        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
        Assert.True(await fixture.Gateway.CreateHttpClient(GatewayConfig.AcmeKey).GetAsync("/v1/models") is { IsSuccessStatusCode: true });
    }

    [Fact]
    public async Task SlowBody_IsCutOff_WhileOthersAreServed()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Settings["Gateway"]!["Limits"]!["MinRequestBodyBytesPerSecond"] = 1000;
        config.Settings["Gateway"]!["Limits"]!["MinRequestBodyGracePeriod"] = "00:00:01.100";
        await using var gateway = await GatewayInstance.StartAsync(config);
        var address = gateway.BaseAddress;
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/chat/completions HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {GatewayConfig.AcmeKey}\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n{{\"model\":\"gpt-test\","));

        // Ten bytes a second, far under the limit: the gateway gives up on the body and closes the connection.
        var closed = false;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (!deadline.IsCancellationRequested)
            {
                await stream.WriteAsync("          "u8.ToArray(), deadline.Token);
                using var served = await gateway.CreateHttpClient(GatewayConfig.AcmeKey).GetAsync("/v1/models", deadline.Token);
                Assert.True(served.IsSuccessStatusCode);
                await Task.Delay(1000, deadline.Token);
            }
        }
        catch (IOException)
        {
            closed = true;
        }

        Assert.True(closed, "the slow body was still being read after 20 s");
    }

    [Fact]
    public async Task StreamingClientThatLeaves_CancelsTheUpstreamRequest_AndSettlesTheReservation()
    {
        await using var upstream = await FaultyUpstream.StartAsync();
        var config = new GatewayConfig();
        config.Upstreams["faulty"] = GatewayConfig.Upstream(upstream.BaseAddress.ToString());
        config.Models["trickle"] = GatewayConfig.ChatModel("faulty", "trickle", input: 1m, output: 2m, window: 128_000);
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 5 };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var message = $"leaving {Guid.NewGuid():N}";

        using (var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = ChatCompletionsTests.JsonContent($$"""{"model":"trickle","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"{{message}}"}]}""") })
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }

        // The client is gone: the upstream's request is cancelled, and the reservation is committed (an answer had started).
        await upstream.Cancelled(message).WaitAsync(TimeSpan.FromSeconds(20));
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        Assert.Equal(DecisionStatuses.Cancelled, decision.Status);
        var spent = (await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow)).MonthUsd;
        Assert.Equal(decision.ActualCostUsd, spent);
    }

    private static async Task<string> ReadToEndAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var text = new StringBuilder();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, deadline.Token)) > 0)
            {
                text.Append(Encoding.Latin1.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
        }

        return text.ToString();
    }
}
