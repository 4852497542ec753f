using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>Spend as the ledger sees it after real requests: reserved, committed from the upstream's usage, released on failure, refused over budget.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class SpendTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Completion_CommitsTheUpstreamsUsage_WithCachedTokensAtTheCachedPrice()
    {
        var config = Budgeted(monthly: 10m);
        config.Models["cached"] = GatewayConfig.ChatModel("stub", "stub-chat", input: 1m, output: 2m, window: 128_000, cachedInput: 0.1m);
        await using var gateway = await GatewayInstance.StartAsync(config);

        var result = await gateway.Chat("cached", GatewayConfig.AcmeKey).CompleteChatAsync([new UserChatMessage("usage:1000,200,300")]);

        var record = await DecisionAsync(gateway, result.GetRawResponse().Headers);
        // 700 uncached × $1 + 300 cached × $0.10 + 200 out × $2, per million.
        Assert.Equal(0.00113m, record.ActualCostUsd);
        Assert.Equal(DecisionStatuses.Completed, record.Status);
        Assert.Equal((1000L, 300L, 200L), (record.PromptTokens!.Value, record.CachedPromptTokens!.Value, record.CompletionTokens!.Value));
        Assert.Equal(0.00113m, (await UsageAsync(gateway)).MonthUsd);
    }

    [Fact]
    public async Task Stream_CommitsUsageFromTheStream()
    {
        await using var gateway = await GatewayInstance.StartAsync(Budgeted(monthly: 10m));
        var updates = new List<StreamingChatCompletionUpdate>();

        // The SDK asks for the usage chunk itself (stream_options.include_usage), so it gets it.
        await foreach (var update in gateway.Chat("gpt-test", GatewayConfig.AcmeKey).CompleteChatStreamingAsync([new UserChatMessage("stream usage:500,50,0")]))
        {
            updates.Add(update);
        }

        Assert.Equal(500, Assert.Single(updates, u => u.Usage is not null).Usage.InputTokenCount);
        // 500 in × $1 + 50 out × $2, per million.
        var decisions = await gateway.SettledDecisionsAsync(1);
        Assert.Equal(0.0006m, Assert.Single(decisions).ActualCostUsd);
        Assert.Equal(0.0006m, (await UsageAsync(gateway)).MonthUsd);
    }

    [Fact]
    public async Task Stream_WithoutIncludeUsage_IsStillMetered_ButTheClientNeverSeesTheUsageChunk()
    {
        await using var gateway = await GatewayInstance.StartAsync(Budgeted(monthly: 10m));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"quiet usage:400,40,0"}]}"""));

        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("data: [DONE]", text, StringComparison.Ordinal);
        Assert.Contains("quiet", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"usage\"", text, StringComparison.Ordinal);
        var sent = JsonNode.Parse(fixture.Stub.LastRequestWith("quiet usage:400,40,0").Body)!;
        Assert.True((bool)sent["stream_options"]!["include_usage"]!);
        // 400 in × $1 + 40 out × $2, per million.
        await gateway.SettledDecisionsAsync(1);
        Assert.Equal(0.00048m, (await UsageAsync(gateway)).MonthUsd);
    }

    [Fact]
    public async Task UpstreamError_ReleasesTheReservation_AndLogsTheFailure()
    {
        await using var gateway = await GatewayInstance.StartAsync(Budgeted(monthly: 10m));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"limited","messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var record = await DecisionAsync(gateway, response.Headers);
        Assert.Equal(0m, (await UsageAsync(gateway)).MonthUsd);
        Assert.Equal(DecisionStatuses.Failed, record.Status);
        Assert.Null(record.ActualCostUsd);
    }

    [Fact]
    public async Task UnreachableUpstream_ReleasesTheReservation()
    {
        var config = Budgeted(monthly: 10m);
        config.Upstreams["down"] = GatewayConfig.Upstream("http://127.0.0.1:9/v1/");
        config.Models["offline"] = GatewayConfig.ChatModel("down", "offline", input: 1m, output: 2m, window: 128_000);
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"offline","messages":[{"role":"user","content":"hi"}]}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unavailable");
        Assert.Equal(DecisionStatuses.Failed, (await DecisionAsync(gateway, response.Headers)).Status);
        Assert.Equal(0m, (await UsageAsync(gateway)).MonthUsd);
    }

    [Fact]
    public async Task OverBudget_Returns429_SayingWhatRemains_AndForwardsNothing()
    {
        // gpt-test's worst case at 100 output tokens is about $0.0002; the budget holds $0.00005.
        await using var gateway = await GatewayInstance.StartAsync(Budgeted(monthly: 0.00005m));
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var before = fixture.Stub.Received.Count;

        using var response = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"too expensive"}]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.TooManyRequests, "budget_exceeded");
        Assert.Equal("insufficient_quota", error.Type);
        Assert.Contains("Remaining budget: $0.00005", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, fixture.Stub.Received.Count);
        var record = await DecisionAsync(gateway, response.Headers);
        Assert.Equal(("over_budget", DecisionStatuses.Refused), (record.Outcome, record.Status));
    }

    [Fact]
    public async Task NearlySpentBudget_RoutesToTheCheaperModelThatStillFits()
    {
        var config = Budgeted(monthly: 0.001m);
        config.Tenants["acme"]!["Policy"]!["Objective"] = "MaxRecallUnderCap";
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        // gpt-premium (best recall, $10/$30) may cost ~$0.003 here; only the $1/$2 models fit the $0.001 left.
        using var response = await http.PostAsync("/v1/route", ChatCompletionsTests.JsonContent("""{"model":"auto","messages":[{"role":"user","content":"fits?"}]}"""));

        var decision = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.NotEqual("gpt-premium", (string?)decision["model"]);
        var premium = decision["candidates"]!.AsArray().Single(c => (string?)c!["id"] == "long_context:gpt-premium")!;
        Assert.Contains(premium["rejected_because"]!.AsArray(), r => ((string?)r)!.Contains("left in the budget", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PricedEmbeddings_AreReservedAndSettledFromUsage_AndRefusedOverBudget()
    {
        var config = Budgeted(monthly: 0.0000045m);
        config.Models["embed-priced"] = new JsonObject
        {
            ["Upstream"] = "stub",
            ["UpstreamModel"] = "stub-embed",
            ["Kind"] = "Embeddings",
            ["Routing"] = new JsonObject { ["Tokenizer"] = "o200k_base", ["Prices"] = new JsonObject { ["InputPerMillion"] = 1m } },
        };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        // The stub reports one prompt token per input: 3 inputs at $1 per 1M tokens.
        using var first = await http.PostAsync("/v1/embeddings", ChatCompletionsTests.JsonContent("""{"model":"embed-priced","input":["alpha","beta","gamma"]}"""));
        first.EnsureSuccessStatusCode();
        await first.Content.ReadAsStringAsync();
        using var second = await http.PostAsync("/v1/embeddings", ChatCompletionsTests.JsonContent("""{"model":"embed-priced","input":["alpha","beta","gamma"]}"""));

        var error = await ErrorAssert.IsOpenAiErrorAsync(second, HttpStatusCode.TooManyRequests, "budget_exceeded");
        Assert.Contains("Remaining budget: $0.0000015", error.Message, StringComparison.Ordinal);
        Assert.Equal(0.000003m, (await UsageAsync(gateway)).MonthUsd);
    }

    [Fact]
    public async Task TwoGateways_SharingOneSqliteLedger_NeverOverspend()
    {
        var file = Path.Combine(Path.GetTempPath(), $"lcg-shared-{Guid.NewGuid():N}.db");
        await AssertConcurrentRequestsStayInBudgetAsync(new JsonObject { ["Store"] = "Sqlite", ["SqlitePath"] = file });
    }

    [Fact]
    public async Task TwoGateways_SharingOnePostgresLedger_NeverOverspend()
    {
        await InFreshPostgresSchemaAsync(connectionString =>
            AssertConcurrentRequestsStayInBudgetAsync(new JsonObject { ["Store"] = "Postgres", ["PostgresConnectionString"] = connectionString }));
    }

    [Fact]
    public async Task TwoGatewayProcesses_SharingOnePostgresLedger_HoldTheBudgetUnderConcurrentLoad()
    {
        await InFreshPostgresSchemaAsync(async connectionString =>
        {
            var config = Budgeted(monthly: 0.005m);
            config.Routing["Ledger"] = new JsonObject { ["Store"] = "Postgres", ["PostgresConnectionString"] = connectionString };
            await using var first = await GatewayProcess.StartAsync(config);
            await using var second = await GatewayProcess.StartAsync(config);
            using var a = first.CreateHttpClient(GatewayConfig.AcmeKey);
            using var b = second.CreateHttpClient(GatewayConfig.AcmeKey);

            // Three waves of 80 concurrent requests, alternating between the processes: each wave
            // races for the same few reservations of budget; the budget runs out along the way.
            var statuses = new List<HttpStatusCode>();
            for (var wave = 0; wave < 3; wave++)
            {
                statuses.AddRange(await Task.WhenAll(Enumerable.Range(0, 80).Select(async i =>
                {
                    using var response = await (i % 2 == 0 ? a : b).PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent($$"""{"model":"gpt-test","messages":[{"role":"user","content":"process wave {{wave}} request {{i}}"}]}"""));
                    return response.StatusCode;
                })));
            }

            Assert.All(statuses, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {status}; {first.Output} {second.Output}"));
            var ok = statuses.Count(s => s == HttpStatusCode.OK);
            Assert.InRange(ok, 1, statuses.Count);

            // The shared ledger, read directly: every answered request committed its real cost
            // exactly once, nothing is left reserved, and the month never went past the budget.
            await using var ledger = await LongContext.Ledger.Postgres.PostgresSpendLedger.OpenAsync(connectionString);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            IReadOnlyList<DecisionRecord> decisions;
            while ((decisions = await ledger.ListAsync("acme", DateTimeOffset.UnixEpoch, 1000)).Count(d => d.Status != DecisionStatuses.Refused) < ok)
            {
                await Task.Delay(20, deadline.Token);
            }

            var usage = await ledger.GetUsageAsync("acme", DateTimeOffset.UtcNow);
            Assert.Equal(ok * 0.000013m, usage.MonthUsd);
            Assert.True(usage.MonthUsd <= 0.005m);
            Assert.Equal(ok, decisions.Count(d => d.Status == DecisionStatuses.Completed));
            Assert.Equal(statuses.Count, decisions.Count);
        });
    }

    /// <summary>Runs <paramref name="test"/> with a connection string to a schema of its own in the test PostgreSQL, dropped afterwards.</summary>
    private static async Task InFreshPostgresSchemaAsync(Func<string, Task> test)
    {
        var server = Environment.GetEnvironmentVariable("LCG_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("LCG_TEST_POSTGRES is not set: run the tests with scripts/test.sh, which starts PostgreSQL.");
        var schema = "gateway_test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            await test(new NpgsqlConnectionStringBuilder(server) { SearchPath = schema }.ToString());
        }
        finally
        {
            await using var connection = new NpgsqlConnection(server);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA {schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>
    /// 120 concurrent requests spread over two gateways on one ledger. Each reserves its worst case
    /// (about 210 prompt tokens with the prompt overhead and 100 output tokens at $1/$2 per 1M, ~$0.0004)
    /// against a $0.005 budget, so only a dozen fit at once; each really costs $0.000013 (7 in, 3 out).
    /// </summary>
    private async Task AssertConcurrentRequestsStayInBudgetAsync(JsonObject ledger)
    {
        var config = Budgeted(monthly: 0.005m);
        config.Routing["Ledger"] = ledger;
        await using var first = await GatewayInstance.StartAsync(config);
        await using var second = await GatewayInstance.StartAsync(config);
        using var a = first.CreateHttpClient(GatewayConfig.AcmeKey);
        using var b = second.CreateHttpClient(GatewayConfig.AcmeKey);

        var responses = await Task.WhenAll(Enumerable.Range(0, 120).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? a : b).PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent($$"""{"model":"gpt-test","messages":[{"role":"user","content":"concurrent {{i % 10}}"}]}"""));
            return response.StatusCode;
        }));

        Assert.All(responses, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {status}"));
        var ok = responses.Count(s => s == HttpStatusCode.OK);
        Assert.InRange(ok, 1, 120);
        var decisions = await first.SettledDecisionsAsync(120);
        var usage = await UsageAsync(first);
        Assert.Equal(ok * 0.000013m, usage.MonthUsd);
        Assert.True(usage.MonthUsd <= 0.005m);
        Assert.Equal(ok, decisions.Count(d => d.Status == DecisionStatuses.Completed));
    }

    private GatewayConfig Budgeted(decimal monthly)
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = monthly, ["RecallFloor"] = 0.5 };
        return config;
    }

    private static Task<LongContext.Ledger.Spend.BudgetUsage> UsageAsync(GatewayInstance gateway) =>
        gateway.Services.GetRequiredService<LedgerStore>().Spend.GetUsageAsync("acme", DateTimeOffset.UtcNow);

    private static Task<DecisionRecord> DecisionAsync(GatewayInstance gateway, System.ClientModel.Primitives.PipelineResponseHeaders headers)
    {
        Assert.True(headers.TryGetValue("X-LCG-Decision-Id", out var id));
        return DecisionAsync(gateway, Guid.Parse(id!));
    }

    private static Task<DecisionRecord> DecisionAsync(GatewayInstance gateway, System.Net.Http.Headers.HttpResponseHeaders headers) =>
        DecisionAsync(gateway, Guid.Parse(headers.GetValues("X-LCG-Decision-Id").Single()));

    /// <summary>
    /// The client can read the end of an answer a moment before the gateway has settled it (the
    /// last bytes leave first); settling is done when the decision row exists, so wait for that.
    /// </summary>
    private static async Task<DecisionRecord> DecisionAsync(GatewayInstance gateway, Guid id)
    {
        var log = gateway.Services.GetRequiredService<LedgerStore>().Decisions;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        DecisionRecord? record;
        while ((record = await log.GetAsync("acme", id)) is null)
        {
            await Task.Delay(10, deadline.Token);
        }

        return record;
    }
}
