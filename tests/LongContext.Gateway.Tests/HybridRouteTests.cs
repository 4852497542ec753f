using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>
/// The hybrid (self-route) route end to end: a real corpus (MiniLM embeddings, embedded store),
/// the RAG step through Semantic Kernel, the long-context step through the forwarder, both against
/// the stub, which answers from the chunks when the planted fact is among them and replies with
/// the marker otherwise.
/// </summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class HybridRouteTests(GatewayFixture fixture)
{
    /// <summary>Found by retrieval: only one document mentions it.</summary>
    private const string Findable = "omega-3x";

    /// <summary>In the corpus, but every retrieved chunk is a distractor that repeats the question without the value.</summary>
    private const string Buried = "zeta-17";

    // RAG on rag-mini ($0.10 / $0.20 per 1M), long context on lc-big ($2 / $4); the stub reports 7 prompt and 3 completion tokens.
    private const decimal RagCost = (7 * 0.10m + 3 * 0.20m) / 1_000_000;
    private const decimal LongContextCost = (7 * 2m + 3 * 4m) / 1_000_000;

    private GatewayConfig Config(bool longContextDown = false, bool spareLongContext = false)
    {
        var config = new GatewayConfig();
        config.Upstreams["stub"] = GatewayConfig.Upstream(fixture.Stub.BaseAddress.ToString(), apiKey: StubUpstream.ApiKey);
        config.Upstreams["down"] = GatewayConfig.Upstream($"http://127.0.0.1:{UpstreamFailureTests.UnusedPort()}/v1/");
        var rag = GatewayConfig.ChatModel("stub", "stub-rag", input: 0.10m, output: 0.20m, window: 128_000);
        rag["Routing"]!["ServesLongContext"] = false;
        var lc = GatewayConfig.ChatModel(longContextDown ? "down" : "stub", "stub-lc", input: 2m, output: 4m, window: 1_000_000);
        lc["Routing"]!["ServesRag"] = false;
        config.Models["rag-mini"] = rag;
        config.Models["lc-big"] = lc;
        if (spareLongContext)
        {
            // As dear as lc-big but with a worse curve, so routing escalates to lc-big first.
            var spare = GatewayConfig.ChatModel("stub", "stub-lc-spare", input: 2m, output: 4m, window: 1_000_000);
            spare["Routing"]!["ServesRag"] = false;
            spare["Routing"]!["ContextRot"] = "poor";
            config.Models["lc-spare"] = spare;
            config.Curves["poor"] = new JsonObject
            {
                ["Source"] = "test curve: 60 % throughout",
                ["Points"] = new JsonArray(new JsonObject { ["Tokens"] = 10_000, ["Recall"] = 0.6 }, new JsonObject { ["Tokens"] = 1_000_000, ["Recall"] = 0.6 }),
            };
        }

        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 10 };
        config.Routing["Routing"]!["Rag"] = new JsonObject { ["TopK"] = 2, ["ChunkTokens"] = 200 };
        return config;
    }

    private static async Task<string> CorpusAsync(HttpClient http)
    {
        using var created = await http.PostAsync("/v1/vector_stores", Json("""{"name":"hybrid"}"""));
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var filler = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"The harbour log for day {i} records calm water and two ferries."));
        var documents = new JsonArray(
            new JsonObject { ["id"] = "findable", ["text"] = $"Inventory card: the value of {Findable} is 777." },
            new JsonObject { ["id"] = "archive", ["text"] = $"{filler} Archive note: the value of {Buried} is 4242. {filler}" });
        for (var i = 0; i < 6; i++)
        {
            documents.Add(new JsonObject { ["id"] = $"distractor-{i}", ["text"] = $"Open question {i}: What is the value of {Buried}? Reader {i} asked what the value of {Buried} was, and what the value of {Buried} means." });
        }

        using var added = await http.PostAsync($"/v1/vector_stores/{id}/documents", Json(new JsonObject { ["documents"] = documents }.ToJsonString()));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        return id;
    }

    private static JsonObject Request(string key, string corpus, bool stream = false) => new()
    {
        ["model"] = "auto",
        ["stream"] = stream,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"What is the value of {key}?" }),
        ["lcg"] = new JsonObject { ["corpus"] = corpus, ["route"] = "hybrid" },
    };

    [Fact]
    public async Task ChunksThatAnswer_AreNotEscalated_ChunksThatCannot_Are_AndBothStepsAreBilled()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var corpus = await CorpusAsync(http);

        using var found = await http.PostAsync("/v1/chat/completions", Json(Request(Findable, corpus).ToJsonString()));
        var foundBody = await found.Content.ReadAsStringAsync();
        Assert.True(found.IsSuccessStatusCode, foundBody);
        Assert.Equal("The value of omega-3x is 777.", (string)JsonNode.Parse(foundBody)!["choices"]![0]!["message"]!["content"]!);
        Assert.Equal("hybrid", found.Headers.GetValues("X-LCG-Route").Single());
        Assert.Equal("false", found.Headers.GetValues("X-LCG-Escalated").Single());

        using var buried = await http.PostAsync("/v1/chat/completions", Json(Request(Buried, corpus).ToJsonString()));
        var buriedBody = await buried.Content.ReadAsStringAsync();
        Assert.True(buried.IsSuccessStatusCode, buriedBody);
        Assert.Equal("The value of zeta-17 is 4242.", (string)JsonNode.Parse(buriedBody)!["choices"]![0]!["message"]!["content"]!);
        Assert.Equal("true", buried.Headers.GetValues("X-LCG-Escalated").Single());
        Assert.DoesNotContain("INSUFFICIENT", buriedBody, StringComparison.Ordinal);

        // The RAG step asked the cheap model with the self-route instruction; only the escalation sent the whole corpus to lc-big.
        var ragStep = fixture.Stub.Received.Last(r => r.Body.Contains("\"stub-rag\"", StringComparison.Ordinal) && r.Body.Contains(Buried, StringComparison.Ordinal));
        Assert.Contains(StubUpstream.SelfRouteMarker, ragStep.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("4242", ragStep.Body, StringComparison.Ordinal);
        var longContextStep = fixture.Stub.Received.Last(r => r.Body.Contains("\"stub-lc\"", StringComparison.Ordinal));
        Assert.Contains("4242", longContextStep.Body, StringComparison.Ordinal);
        Assert.Contains("harbour log", longContextStep.Body, StringComparison.Ordinal);

        var decisions = await gateway.SettledDecisionsAsync(2);
        var answered = decisions.Single(d => d.Escalated == false);
        Assert.Equal((RagCost, (decimal?)null, RagCost), (answered.RagStepCostUsd!.Value, answered.LongContextStepCostUsd, answered.ActualCostUsd!.Value));
        var escalated = decisions.Single(d => d.Escalated == true);
        Assert.Equal((RagCost, LongContextCost, RagCost + LongContextCost), (escalated.RagStepCostUsd!.Value, escalated.LongContextStepCostUsd!.Value, escalated.ActualCostUsd!.Value));
        Assert.All(decisions, d => Assert.Equal((DecisionStatuses.Completed, "hybrid", corpus), (d.Status, d.Route, d.Corpus)));

        // One reservation per request, settled to both steps' real cost: nothing else is held.
        var usage = await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);
        Assert.Equal(RagCost + RagCost + LongContextCost, usage.MonthUsd);
    }

    [Theory]
    [InlineData(Findable, "The value of omega-3x is 777.", false)]
    [InlineData(Buried, "The value of zeta-17 is 4242.", true)]
    public async Task Streaming_NeverShowsTheMarker_AndReportsUsageWhenAsked(string key, string expected, bool escalates)
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var corpus = await CorpusAsync(http);
        using var raw = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json(With(Request(key, corpus, stream: true), "stream_options", new JsonObject { ["include_usage"] = true }).ToJsonString()) }, HttpCompletionOption.ResponseHeadersRead);
        var events = await raw.Content.ReadAsStringAsync();

        Assert.Equal(escalates ? "true" : "false", raw.Headers.GetValues("X-LCG-Escalated").Single());
        Assert.DoesNotContain("INSUFFICIENT", events, StringComparison.Ordinal);
        Assert.DoesNotContain("[[", events, StringComparison.Ordinal);
        var chunks = events.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(e => e.StartsWith("data: {", StringComparison.Ordinal)).Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        var text = string.Concat(chunks.SelectMany(c => c["choices"]!.AsArray()).Select(c => (string?)c!["delta"]?["content"]));
        Assert.Equal(expected, text);
        Assert.Single(chunks, c => c["usage"] is JsonObject);
        Assert.EndsWith("data: [DONE]\n\n", events, StringComparison.Ordinal);

        // And through the official SDK's streaming client (corpus and route as headers): the same text, usage included.
        var options = gateway.ClientOptions();
        options.AddPolicy(new HeadersPolicy(("X-LCG-Corpus", corpus), ("X-LCG-Route", "hybrid")), System.ClientModel.Primitives.PipelinePosition.PerCall);
        var client = new ChatClient("auto", new ApiKeyCredential(GatewayConfig.AcmeKey), options);
        var streamed = new StringBuilder();
        ChatTokenUsage? reported = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage($"What is the value of {key}?")]))
        {
            streamed.Append(string.Concat(update.ContentUpdate.Select(c => c.Text)));
            reported = update.Usage ?? reported;
        }

        Assert.Equal(expected, streamed.ToString());
        Assert.Equal(7, reported!.InputTokenCount);
    }

    private sealed class HeadersPolicy(params (string Name, string Value)[] headers) : System.ClientModel.Primitives.PipelinePolicy
    {
        public override void Process(System.ClientModel.Primitives.PipelineMessage message, IReadOnlyList<System.ClientModel.Primitives.PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(System.ClientModel.Primitives.PipelineMessage message, IReadOnlyList<System.ClientModel.Primitives.PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Add(System.ClientModel.Primitives.PipelineMessage message)
        {
            foreach (var (name, value) in headers)
            {
                message.Request.Headers.Set(name, value);
            }
        }
    }

    private static JsonObject With(JsonObject body, string name, JsonNode value)
    {
        body[name] = value;
        return body;
    }

    [Fact]
    public async Task ObservedEscalations_MoveTheHybridCandidatesEscalationProbability()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config());
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var corpus = await CorpusAsync(http);

        async Task<string> HybridBasisAsync()
        {
            using var dryRun = await http.PostAsync("/v1/route", Json(Request(Buried, corpus).ToJsonString()));
            var view = JsonNode.Parse(await dryRun.Content.ReadAsStringAsync())!;
            var hybrid = view["candidates"]!.AsArray().Single(c => ((string)c!["id"]!).StartsWith("hybrid:", StringComparison.Ordinal))!;
            return string.Join(" | ", hybrid["basis"]!.AsArray().Select(b => (string)b!));
        }

        var before = await HybridBasisAsync();
        for (var i = 0; i < 3; i++)
        {
            using var response = await http.PostAsync("/v1/chat/completions", Json(Request(Buried, corpus).ToJsonString()));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var after = await HybridBasisAsync();

        // Prior 35 % weighted as 10 observations; then 3 of 3 escalated: (3 + 3.5) / 13 = 50 %.
        Assert.Contains("probability 35 % (0 of 0 observed escalated", before, StringComparison.Ordinal);
        Assert.Contains("probability 50 % (3 of 3 observed escalated", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailingLongContextStep_IsAClear502_AndOnlyTheRagStepIsPaid()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config(longContextDown: true));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var corpus = await CorpusAsync(http);

        using var response = await http.PostAsync("/v1/chat/completions", Json(Request(Buried, corpus).ToJsonString()));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unavailable");
        Assert.Contains("down", error.Message, StringComparison.Ordinal);
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        Assert.Equal((DecisionStatuses.Failed, (bool?)true, RagCost, (decimal?)null), (decision.Status, decision.Escalated, decision.RagStepCostUsd!.Value, decision.LongContextStepCostUsd));
        var usage = await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);
        Assert.Equal(RagCost, usage.MonthUsd);
    }

    [Fact]
    public async Task FailingLongContextStep_FallsBackToTheNextLongContextOption_WithinTheReservation()
    {
        await using var gateway = await GatewayInstance.StartAsync(Config(longContextDown: true, spareLongContext: true));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var corpus = await CorpusAsync(http);

        using var response = await http.PostAsync("/v1/chat/completions", Json(Request(Buried, corpus).ToJsonString()));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal("The value of zeta-17 is 4242.", (string)JsonNode.Parse(body)!["choices"]![0]!["message"]!["content"]!);
        Assert.Equal("true", response.Headers.GetValues("X-LCG-Escalated").Single());
        var decision = Assert.Single(await gateway.SettledDecisionsAsync(1));
        Assert.Equal("hybrid:rag-mini>lc-big", decision.CandidateId);
        Assert.Equal((DecisionStatuses.Completed, (bool?)true, RagCost, (decimal?)LongContextCost), (decision.Status, decision.Escalated, decision.RagStepCostUsd!.Value, decision.LongContextStepCostUsd));
        Assert.Contains("fell back from lc-big", decision.Explanation, StringComparison.Ordinal);
        Assert.Contains("to lc-spare", decision.Explanation, StringComparison.Ordinal);
        Assert.Contains(fixture.Stub.Received, r => r.Body.Contains("\"stub-lc-spare\"", StringComparison.Ordinal) && r.Body.Contains("4242", StringComparison.Ordinal));

        // One reservation, settled to the two steps that answered.
        var usage = await gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);
        Assert.Equal(RagCost + LongContextCost, usage.MonthUsd);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
