using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>An upstream that refuses a request as too large for it (KV cache, context window) sends the request to the next candidate.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class ReroutingTests(GatewayFixture fixture)
{
    /// <summary>A cheap model whose upstream refuses everything as too large, and the dearer gpt-test that answers.</summary>
    private GatewayConfig Config()
    {
        var config = new GatewayConfig();
        config.Upstreams["stub"] = GatewayConfig.Upstream(fixture.Stub.BaseAddress.ToString(), apiKey: StubUpstream.ApiKey);
        config.Models["tight"] = GatewayConfig.ChatModel("stub", "too-large", input: 0.1m, output: 0.2m, window: 128_000);
        config.Models["gpt-test"] = GatewayConfig.ChatModel("stub", "stub-chat", input: 1m, output: 2m, window: 128_000);
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 10, ["RecallFloor"] = 0.5 };
        return config;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RefusedAsTooLarge_IsRoutedToTheNextCandidate_AndOnlyTheAnswerIsPaid(bool stream)
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        var client = gateway.Chat("auto", GatewayConfig.AcmeKey);
        var question = $"reroute me {Guid.NewGuid():N}";

        string text;
        System.ClientModel.Primitives.PipelineResponse raw;
        if (stream)
        {
            var updates = client.CompleteChatStreamingAsync([new UserChatMessage(question)]);
            var parts = new List<string>();
            await foreach (var update in updates)
            {
                parts.AddRange(update.ContentUpdate.Select(c => c.Text));
            }

            text = string.Concat(parts);
            raw = null!;
        }
        else
        {
            var result = await client.CompleteChatAsync([new UserChatMessage(question)]);
            text = result.Value.Content[0].Text;
            raw = result.GetRawResponse();
        }

        Assert.Equal("echo: " + question, text);
        if (raw is not null)
        {
            Assert.True(raw.Headers.TryGetValue("X-LCG-Candidate", out var candidate));
            Assert.Equal("long_context:gpt-test", candidate);
            Assert.True(raw.Headers.TryGetValue("X-LCG-Rerouted-From", out var from));
            Assert.Equal("long_context:tight", from);
        }

        // Both upstreams saw the request once, each with its own model.
        Assert.Single(fixture.Stub.Received, r => r.Body.Contains(question, StringComparison.Ordinal) && r.Body.Contains("\"too-large\"", StringComparison.Ordinal));
        Assert.Single(fixture.Stub.Received, r => r.Body.Contains(question, StringComparison.Ordinal) && r.Body.Contains("\"stub-chat\"", StringComparison.Ordinal));

        var decisions = await gateway.SettledDecisionsAsync(2);
        var rerouted = Assert.Single(decisions, d => d.Status == DecisionStatuses.Rerouted);
        Assert.Equal("tight", rerouted.Model);
        Assert.Null(rerouted.ActualCostUsd);
        Assert.Contains("kv_cache_does_not_fit", rerouted.Explanation, StringComparison.Ordinal);
        var completed = Assert.Single(decisions, d => d.Status == DecisionStatuses.Completed);
        Assert.Equal("gpt-test", completed.Model);

        // Nothing is left held: the month's spend is the answer's cost alone (7 prompt × $1 + 3 completion × $2 per 1M).
        var usage = await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);
        Assert.Equal(0.000013m, usage.MonthUsd);
        Assert.Equal(0.000013m, completed.ActualCostUsd);
    }

    [Fact]
    public async Task RefusedAsTooLarge_WithNoOtherCandidate_IsAClearError_NamingTheUpstreamsReason()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"tight","messages":[{"role":"user","content":"only tight"}]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "no_feasible_route");
        Assert.Contains("its upstream refused this request: kv_cache_does_not_fit", error.Message, StringComparison.Ordinal);
        var decisions = await gateway.SettledDecisionsAsync(2);
        Assert.Equal([DecisionStatuses.Refused, DecisionStatuses.Rerouted], decisions.Select(d => d.Status).Order());
        var usage = await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.MonthUsd);
    }
}
