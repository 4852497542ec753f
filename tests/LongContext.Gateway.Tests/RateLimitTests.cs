using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;

namespace LongContext.Gateway.Tests;

/// <summary>Per-tenant requests and tokens per minute: 429 with Retry-After, other tenants untouched, nothing reserved.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class RateLimitTests(GatewayFixture fixture)
{
    private GatewayConfig Limited(int? requests = null, int? tokens = null)
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants["acme"]!["RateLimits"] = new JsonObject { ["RequestsPerMinute"] = requests, ["TokensPerMinute"] = tokens };
        return config;
    }

    private static StringContent Chat(string message, int maxTokens = 10) =>
        ChatCompletionsTests.JsonContent($$"""{"model":"gpt-test","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"{{message}}"}]}""");

    [Fact]
    public async Task RequestsPerMinute_RefusesTheRequestOverTheLimit_With429AndRetryAfter_OnlyForThatTenant()
    {
        await using var gateway = await GatewayInstance.StartAsync(Limited(requests: 3));
        using var acme = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var globex = gateway.CreateHttpClient(GatewayConfig.GlobexKey);

        for (var i = 0; i < 3; i++)
        {
            using var ok = await acme.PostAsync("/v1/chat/completions", Chat($"within {i}"));
            ok.EnsureSuccessStatusCode();
        }

        using var refused = await acme.PostAsync("/v1/chat/completions", Chat("one too many"));
        var error = await ErrorAssert.IsOpenAiErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Contains("requests-per-minute", error.Message, StringComparison.Ordinal);
        Assert.InRange(refused.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        // Every endpoint counts, and other tenants have their own buckets.
        using var models = await acme.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.TooManyRequests, models.StatusCode);
        using var other = await globex.PostAsync("/v1/chat/completions", Chat("someone else"));
        other.EnsureSuccessStatusCode();
        Assert.DoesNotContain(fixture.Stub.Received, r => r.Body.Contains("one too many", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TokensPerMinute_CountsPromptAndLargestAnswer_AndSaysWhenARequestCanNeverFit()
    {
        // A request counts its prompt as routing measured it (about 200 tokens with the gateway's overhead) plus max_tokens.
        await using var gateway = await GatewayInstance.StartAsync(Limited(tokens: 1000));
        using var acme = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var huge = await acme.PostAsync("/v1/chat/completions", Chat("too big", maxTokens: 2000));
        var never = await ErrorAssert.IsOpenAiErrorAsync(huge, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Contains("more than the tenant's whole limit of 1,000 tokens per minute", never.Message, StringComparison.Ordinal);
        Assert.Null(huge.Headers.RetryAfter);

        using var first = await acme.PostAsync("/v1/chat/completions", Chat("first", maxTokens: 300));
        Assert.True(first.IsSuccessStatusCode, await first.Content.ReadAsStringAsync());
        using var second = await acme.PostAsync("/v1/chat/completions", Chat("second", maxTokens: 300));
        await ErrorAssert.IsOpenAiErrorAsync(second, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.NotNull(second.Headers.RetryAfter?.Delta);

        // Refused requests reached no upstream and held nothing: they are logged as refused.
        Assert.DoesNotContain(fixture.Stub.Received, r => r.Body.Contains("too big", StringComparison.Ordinal));
        var decisions = await gateway.SettledDecisionsAsync(3);
        Assert.Equal(2, decisions.Count(d => d.Status == DecisionStatuses.Refused && d.Explanation.Contains("rate limited", StringComparison.Ordinal)));
    }
}
