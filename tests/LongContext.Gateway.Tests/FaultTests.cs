using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>
/// A misbehaving upstream (failures that pass, failures that stay, resets mid-stream, garbage,
/// slow first bytes, an upstream that is not there): the gateway retries only what is safe,
/// falls back to another route when an upstream is down, keeps serving other requests, and
/// every reservation ends committed or released.
/// </summary>
public sealed class FaultTests : IAsyncLifetime
{
    private FaultyUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FaultyUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    /// <summary>The faulty upstream's models, at $1 / $2 per 1M tokens (an answer costs $0.000013), with resilience settings to suit.</summary>
    private GatewayConfig Config(JsonObject? resilience = null)
    {
        var config = new GatewayConfig();
        var upstream = GatewayConfig.Upstream(_upstream.BaseAddress.ToString());
        upstream["Resilience"] = resilience ?? new JsonObject { ["RetryBaseDelay"] = "00:00:00.010" };
        config.Upstreams["faulty"] = upstream;
        // A second cluster on the same server: its circuit is its own.
        config.Upstreams["healthy"] = GatewayConfig.Upstream(_upstream.BaseAddress.ToString());
        foreach (var model in new[] { "fail-twice", "retry-after", "always-503", "garbage", "reset-mid-stream", "slow" })
        {
            config.Models[model] = GatewayConfig.ChatModel("faulty", model, input: 1m, output: 2m, window: 128_000);
        }

        config.Models["ok"] = GatewayConfig.ChatModel("healthy", "ok", input: 1m, output: 2m, window: 128_000);
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 10, ["RecallFloor"] = 0.5 };
        return config;
    }

    private static StringContent Chat(string model, string message, bool stream = false) =>
        ChatCompletionsTests.JsonContent(new JsonObject
        {
            ["model"] = model,
            ["stream"] = stream,
            ["max_tokens"] = 10,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = message }),
        }.ToJsonString());

    private static async Task<decimal> SpentAsync(GatewayInstance gateway) =>
        (await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow)).MonthUsd;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TransientFailures_AreRetried_TheClientGetsOneAnswer_AndPaysOnce(bool stream)
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        var message = $"flaky {Guid.NewGuid():N}";
        var client = gateway.Chat("fail-twice", GatewayConfig.AcmeKey);

        string text;
        if (stream)
        {
            var parts = new List<string>();
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(message)], new ChatCompletionOptions { MaxOutputTokenCount = 10 }))
            {
                parts.AddRange(update.ContentUpdate.Select(c => c.Text));
            }

            text = string.Concat(parts);
        }
        else
        {
            text = (await client.CompleteChatAsync([new UserChatMessage(message)], new ChatCompletionOptions { MaxOutputTokenCount = 10 })).Value.Content[0].Text;
        }

        Assert.Equal("ok: " + message, text);
        Assert.Equal(3, _upstream.Received("fail-twice", message));
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        Assert.Equal((DecisionStatuses.Completed, 0.000013m), (decision.Status, decision.ActualCostUsd));
        Assert.Equal(0.000013m, await SpentAsync(gateway));
    }

    [Fact]
    public async Task RateLimitedUpstream_IsRetriedAfterItsRetryAfter()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var message = $"patient {Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();

        using var response = await http.PostAsync("/v1/chat/completions", Chat("retry-after", message));

        response.EnsureSuccessStatusCode();
        Assert.Equal(2, _upstream.Received("retry-after", message));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"retried after {clock.Elapsed.TotalSeconds:0.00} s, not after the upstream's Retry-After of 1 s");
    }

    [Fact]
    public async Task FailingUpstream_OpensItsCircuit_ThenFailsFast_WhileOthersAreServed()
    {
        var resilience = new JsonObject
        {
            ["MaxRetries"] = 0,
            ["CircuitBreaker"] = new JsonObject { ["FailureRatio"] = 0.5, ["MinimumThroughput"] = 2, ["SamplingDuration"] = "00:00:30", ["BreakDuration"] = "00:00:30" },
        };
        await using var gateway = await GatewayInstance.StartAsync(Config(resilience));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var message = $"broken {Guid.NewGuid():N}";

        for (var i = 0; i < 2; i++)
        {
            using var failed = await http.PostAsync("/v1/chat/completions", Chat("always-503", message));
            var error = await ErrorAssert.IsOpenAiErrorAsync(failed, HttpStatusCode.BadGateway, "upstream_unavailable");
            Assert.Contains("answered HTTP 503", error.Message, StringComparison.Ordinal);
        }

        using var fastFail = await http.PostAsync("/v1/chat/completions", Chat("always-503", message));
        await ErrorAssert.IsOpenAiErrorAsync(fastFail, HttpStatusCode.ServiceUnavailable, "upstream_circuit_open");
        Assert.True(fastFail.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a fast failure says when to come back");
        Assert.Equal(2, _upstream.Received("always-503", message));

        using var served = await http.PostAsync("/v1/chat/completions", Chat("ok", message));
        served.EnsureSuccessStatusCode();

        var decisions = await gateway.SettledDecisionsAsync(4);
        Assert.Equal(3, decisions.Count(d => d.Status == DecisionStatuses.Failed && d.ActualCostUsd is null));
        Assert.Equal(0.000013m, await SpentAsync(gateway));
    }

    [Fact]
    public async Task LongContextUpstreamDown_FallsBackToRag_AndTheDecisionSaysSo()
    {
        // The cheapest model (RAG or long context) is one whose upstream is not there; the model that answers
        // has too small a window for the documents whole, so only its RAG route can take the request.
        var config = new GatewayConfig();
        config.Upstreams["healthy"] = GatewayConfig.Upstream(_upstream.BaseAddress.ToString());
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 10, ["RecallFloor"] = 0.5 };
        config.Upstreams["down"] = GatewayConfig.Upstream($"http://127.0.0.1:{UpstreamFailureTests.UnusedPort()}/v1/");
        config.Upstreams["down"]!["Resilience"] = new JsonObject { ["RetryBaseDelay"] = "00:00:00.010" };
        config.Models["long-reader"] = GatewayConfig.ChatModel("down", "long-reader", input: 0.001m, output: 0.002m, window: 1_000_000);
        config.Models["ok"] = GatewayConfig.ChatModel("healthy", "ok", input: 1m, output: 2m, window: 6_000);
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var documents = new JsonArray([.. Enumerable.Range(0, 12).Select(i => JsonValue.Create(
            $"Report {i}. " + string.Concat(Enumerable.Repeat($"The harbour of section {i} was quiet and the boats of section {i} stayed moored. ", 40))))]);
        var body = new JsonObject
        {
            ["model"] = "auto",
            ["max_tokens"] = 10,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Was the harbour of section 7 quiet?" }),
            ["lcg"] = new JsonObject { ["documents"] = documents },
        };

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(body.ToJsonString()));

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal("rag", response.Headers.GetValues("X-LCG-Route").Single());
        Assert.Contains(":long-reader", response.Headers.GetValues("X-LCG-Rerouted-From").Single(), StringComparison.Ordinal);
        var decisions = await gateway.SettledDecisionsAsync(2);
        var given = Assert.Single(decisions, d => d.Status == DecisionStatuses.Rerouted);
        Assert.Equal(("long-reader", null), (given.Model, given.ActualCostUsd));
        Assert.Contains("could not be reached", given.Explanation, StringComparison.Ordinal);
        Assert.Contains("fell back to rag:ok", given.Explanation, StringComparison.Ordinal);
        var answered = Assert.Single(decisions, d => d.Status == DecisionStatuses.Completed);
        Assert.Equal(("ok", 0.000013m), (answered.Model, answered.ActualCostUsd));
        Assert.Equal(0.000013m, await SpentAsync(gateway));
    }

    [Fact]
    public async Task ResetMidStream_AbortsTheClientsStream_IsNotRetried_AndIsSettled()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var message = $"reset {Guid.NewGuid():N}";

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("reset-mid-stream", message, stream: true) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var broken = await Assert.ThrowsAnyAsync<Exception>(async () => await response.Content.ReadAsStringAsync());
        Assert.True(broken is IOException or HttpRequestException, broken.ToString());

        Assert.Equal(1, _upstream.Received("reset-mid-stream", message));
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        // Part of an answer was delivered and no usage came: the worst case is committed, nothing is left held.
        Assert.Equal(DecisionStatuses.Cancelled, decision.Status);
        Assert.NotNull(decision.ActualCostUsd);
        Assert.Equal(decision.ActualCostUsd, await SpentAsync(gateway));
    }

    [Fact]
    public async Task GarbageAnswer_IsPassedOnAsItCame_AndTheReservationIsSettled()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", Chat("garbage", "anything"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"id\": \"x\", \"choices\": [oops", await response.Content.ReadAsStringAsync());
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        Assert.Contains("reported no usage", decision.Explanation, StringComparison.Ordinal);
        Assert.Equal(decision.ActualCostUsd, await SpentAsync(gateway));
    }

    [Fact]
    public async Task SlowFirstByte_TimesOut_Returns504_WhileOthersAreServed()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config(new JsonObject { ["FirstByteTimeout"] = "00:00:00.500" }));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var message = $"slow {Guid.NewGuid():N}";

        var slow = http.PostAsync("/v1/chat/completions", Chat("slow", message));
        using (var quick = await http.PostAsync("/v1/chat/completions", Chat("ok", "meanwhile")))
        {
            quick.EnsureSuccessStatusCode();
        }

        using var timedOut = await slow;
        await ErrorAssert.IsOpenAiErrorAsync(timedOut, HttpStatusCode.GatewayTimeout, "upstream_timeout");
        // A request the upstream may be working on is not sent twice.
        Assert.Equal(1, _upstream.Received("slow", message));
        var decisions = await gateway.SettledDecisionsAsync(2);
        Assert.Single(decisions, d => d.Status == DecisionStatuses.Failed && d.ActualCostUsd is null);
        Assert.Equal(0.000013m, await SpentAsync(gateway));
    }
}
