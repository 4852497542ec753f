using System.ClientModel;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>Routing as a client sees it: the decision's headers, the dry run, forced routes, what reaches the upstream.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class RoutingTests(GatewayFixture fixture)
{
    private readonly GatewayInstance _gateway = fixture.Gateway;

    [Fact]
    public async Task ChatResponse_CarriesTheDecisionHeaders()
    {
        var result = await _gateway.Chat("gpt-test", GatewayConfig.AcmeKey).CompleteChatAsync([new UserChatMessage("headers please")]);

        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("X-LCG-Route", out var route));
        Assert.Equal("long_context", route);
        Assert.True(headers.TryGetValue("X-LCG-Candidate", out var candidate));
        Assert.Equal("long_context:gpt-test", candidate);
        Assert.True(headers.TryGetValue("X-LCG-Decision-Id", out var id));
        Assert.True(Guid.TryParse(id, out _));
        Assert.True(headers.TryGetValue("X-LCG-Estimated-Cost-Usd", out var cost));
        Assert.True(decimal.Parse(cost!, CultureInfo.InvariantCulture) > 0);
        Assert.True(headers.TryGetValue("X-LCG-Expected-Recall", out var recall));
        Assert.InRange(double.Parse(recall!, CultureInfo.InvariantCulture), 0.5, 1.0);
        Assert.Equal("echo: headers please", result.Value.Content[0].Text);
    }

    [Fact]
    public async Task DryRun_ExplainsEveryCandidate_AndForwardsNothing()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Settings["Gateway"]!["Limits"]!["MaxRequestBodyBytes"] = 4 * 1024 * 1024;
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var before = fixture.Stub.Received.Count;
        var document = string.Join(' ', Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 15_000));
        var body = new JsonObject
        {
            ["model"] = "auto",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "dry-run: what does the fox do?" }),
            ["lcg"] = new JsonObject { ["documents"] = new JsonArray(document), ["route"] = "long_context" },
        };

        using var response = await http.PostAsync("/v1/route", ChatCompletionsTests.JsonContent(body.ToJsonString()));

        response.EnsureSuccessStatusCode();
        var decision = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("route.decision", (string?)decision["object"]);
        Assert.Equal("routed", (string?)decision["outcome"]);
        Assert.True((long)decision["request"]!["context_tokens"]! > 128_000);
        var candidates = decision["candidates"]!.AsArray();

        // ~150K tokens of documents overflow gpt-test's 128K window: only the 1M-token model can take them whole.
        var small = candidates.Single(c => (string?)c!["id"] == "long_context:gpt-test")!;
        Assert.False((bool)small["feasible"]!);
        Assert.Contains(small["rejected_because"]!.AsArray(), r => ((string?)r)!.Contains("128,000-token window", StringComparison.Ordinal));
        Assert.Equal("long_context:gpt-premium", (string?)decision["candidate"]);
        Assert.Contains(candidates, c => (string?)c!["route"] == "rag" && ((string?)c["rejected_because"]![0])!.Contains("forced route long_context", StringComparison.Ordinal));
        Assert.True(decision["counterfactual_costs_usd"]!.AsObject().ContainsKey("rag:gpt-test"));
        Assert.Equal(before, fixture.Stub.Received.Count);
    }

    [Fact]
    public async Task InlineDocuments_ReachTheUpstreamAsContext_WithoutTheExtension_AndOutputCapped()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var body = """{"model":"gpt-test","messages":[{"role":"user","content":"docs-marker-7"}],"lcg":{"documents":[{"id":"manual","text":"The passkey is 4711."}]}}""";

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent(body));

        response.EnsureSuccessStatusCode();
        var sent = JsonNode.Parse(fixture.Stub.LastRequestWith("docs-marker-7").Body)!;
        Assert.Null(sent["lcg"]);
        var system = sent["messages"]![0]!;
        Assert.Equal("system", (string?)system["role"]);
        Assert.Contains("<document id=\"manual\">\nThe passkey is 4711.", (string?)system["content"], StringComparison.Ordinal);
        // No max_tokens from the client: the upstream is capped at what the ledger reserved (Routing:DefaultMaxOutputTokens).
        Assert.Equal(100, (int)sent["max_tokens"]!);
    }

    [Theory]
    [InlineData("header")]
    [InlineData("body")]
    public async Task ForcedRag_OverInlineDocuments_IndexesThemForTheRequest(string where)
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var documents = """["The pass code for the storage room is 5512.","The canteen serves soup on Mondays and fish on Fridays.","Parking permits are renewed every January."]""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsTests.JsonContent(where == "body"
                ? $$$"""{"model":"gpt-test","messages":[{"role":"user","content":"inline-rag-{{{where}}}: what is the storage room code?"}],"lcg":{"route":"rag","documents":{{{documents}}}}}"""
                : $$$"""{"model":"gpt-test","messages":[{"role":"user","content":"inline-rag-{{{where}}}: what is the storage room code?"}],"lcg":{"documents":{{{documents}}}}}"""),
        };
        if (where == "header")
        {
            request.Headers.Add("X-LCG-Route", "rag");
        }

        using var response = await http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        Assert.Equal("rag", response.Headers.GetValues("X-LCG-Route").Single());
        var system = (string)JsonNode.Parse(fixture.Stub.LastRequestWith($"inline-rag-{where}").Body)!["messages"]![0]!["content"]!;
        var decisionId = response.Headers.GetValues("X-LCG-Decision-Id").Single();
        Assert.True(Guid.TryParse(decisionId, out _));
        Assert.StartsWith("Answer the question from the sources below.", system, StringComparison.Ordinal);
        Assert.Contains("[1] ", system, StringComparison.Ordinal);
        Assert.Contains("5512", system, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForcedHybrid_OnARequestWithTools_IsRefused_SayingWhyItCannotServe()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        // The hybrid route rebuilds the conversation as its RAG step: a request with tools is not one it can rebuild.
        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"force hybrid"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"lcg":{"route":"hybrid","documents":["some context"]}}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "no_feasible_route");
        Assert.Contains("the client forced route hybrid", error.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be carried out", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("header", "X-LCG-Route")]
    [InlineData("body", "lcg.route")]
    public async Task UnknownForcedRoute_Returns400_NamingWhereItCameFrom(string where, string param)
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsTests.JsonContent(where == "body"
                ? """{"model":"gpt-test","messages":[{"role":"user","content":"x"}],"lcg":{"route":"stuffing"}}"""
                : """{"model":"gpt-test","messages":[{"role":"user","content":"x"}]}"""),
        };
        if (where == "header")
        {
            request.Headers.Add("X-LCG-Route", "stuffing");
        }

        using var response = await http.SendAsync(request);

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "invalid_value", param);
    }

    [Fact]
    public async Task ForcedRoute_WherePolicyForbidsIt_IsIgnoredAndSaidSo()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["AllowForcedRoute"] = false };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
        {
            Content = ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"x"}]}"""),
        };
        request.Headers.Add("X-LCG-Route", "rag");

        using var response = await http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var decision = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("long_context", (string?)decision["route"]);
        Assert.False((bool)decision["forced_route_honoured"]!);
        Assert.Contains(decision["notes"]!.AsArray(), n => ((string?)n)!.Contains("does not let clients force a route", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AutoModel_PicksAmongTheTenantsModelsOnly()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.GlobexKey);

        using var response = await http.PostAsync("/v1/route", ChatCompletionsTests.JsonContent("""{"model":"auto","messages":[{"role":"user","content":"x"}]}"""));

        response.EnsureSuccessStatusCode();
        var decision = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.All(decision["candidates"]!.AsArray(), c => Assert.Equal("gpt-test", (string?)c!["model"]));
    }

    [Fact]
    public async Task DryRun_ForAModelTheTenantMayNotUse_Returns404()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.GlobexKey);

        using var response = await http.PostAsync("/v1/route", ChatCompletionsTests.JsonContent("""{"model":"gpt-premium","messages":[{"role":"user","content":"x"}]}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.NotFound, "model_not_found");
    }

    [Fact]
    public async Task SdkClient_CanUseTheAutoModel()
    {
        ClientResult<ChatCompletion> result = await _gateway.Chat("auto", GatewayConfig.AcmeKey).CompleteChatAsync([new UserChatMessage("auto please")]);

        Assert.Equal("echo: auto please", result.Value.Content[0].Text);
        Assert.True(result.GetRawResponse().Headers.TryGetValue("X-LCG-Candidate", out var candidate));
        Assert.StartsWith("long_context:", candidate, StringComparison.Ordinal);
    }
}
