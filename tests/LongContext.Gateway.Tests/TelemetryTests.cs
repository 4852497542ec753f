using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

/// <summary>Prometheus metrics after a scripted set of requests, and the spans of one request.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed partial class TelemetryTests(GatewayFixture fixture)
{
    private const string Tenant = "metered-tenant";
    private const string Key = "sk-metered-tenant-key";

    [Fact]
    public async Task Metrics_CountRequestsTokensCostAndReservations_AfterAScriptedWorkload()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants[Tenant] = GatewayConfig.Tenant(Key, "*");
        config.Tenants[Tenant]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 1 };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(Key);

        for (var i = 0; i < 3; i++)
        {
            using var ok = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"metered"}]}"""));
            ok.EnsureSuccessStatusCode();
        }

        using var limited = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"limited","messages":[{"role":"user","content":"metered"}]}"""));
        Assert.Equal(429, (int)limited.StatusCode);

        // The client has its answer as soon as the body is written; the ledger settles right after, so wait for that too.
        var metrics = await ScrapeAsync(gateway, m => m.ContainsKey(("lcg_requests_total", $"model=\"limited\",route=\"long_context\",status=\"failed\",tenant=\"{Tenant}\""))
            && m.GetValueOrDefault(("lcg_open_reservations", $"tenant=\"{Tenant}\""), -1) == 0);

        double Value(string name, string labels) => metrics.TryGetValue((name, labels), out var v) ? v : throw new KeyNotFoundException($"{name}{{{labels}}} not in /metrics");
        Assert.Equal(3, Value("lcg_requests_total", $"model=\"gpt-test\",route=\"long_context\",status=\"completed\",tenant=\"{Tenant}\""));
        Assert.Equal(21, Value("lcg_tokens_total", $"kind=\"prompt\",model=\"gpt-test\",route=\"long_context\",tenant=\"{Tenant}\""));
        Assert.Equal(9, Value("lcg_tokens_total", $"kind=\"completion\",model=\"gpt-test\",route=\"long_context\",tenant=\"{Tenant}\""));
        // 3 × (7 × $1 + 3 × $2) per 1M.
        Assert.Equal(0.000039, Value("lcg_cost_usd_total", $"kind=\"actual\",route=\"long_context\",tenant=\"{Tenant}\""), 12);
        Assert.True(Value("lcg_cost_usd_total", $"kind=\"estimated\",route=\"long_context\",tenant=\"{Tenant}\"") > 0);
        // Every reservation opened for this tenant was settled (other tests' gateways share the process's meters).
        Assert.Equal(0, Value("lcg_open_reservations", $"tenant=\"{Tenant}\""));
        Assert.InRange(Value("lcg_budget_remaining_usd", $"tenant=\"{Tenant}\""), 0.99, 1);
        Assert.True(Value("lcg_decision_duration_seconds_count", "") >= 4);
        Assert.True(Value("lcg_upstream_duration_seconds_count", "model=\"gpt-test\",route=\"long_context\"") >= 3);
        Assert.True(Value("lcg_expected_recall_count", "route=\"long_context\"") >= 4);
    }

    [Fact]
    public async Task GrafanaDashboard_QueriesOnlyMetricsTheGatewayExports()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "LongContext.Gateway.sln")))
        {
            root = root.Parent;
        }

        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(root!.FullName, "deploy", "grafana", "longcontext-gateway.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => (string)t!["expr"]!).ToList();
        var used = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();

        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants[Tenant] = GatewayConfig.Tenant(Key, "*");
        config.Tenants[Tenant]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 1 };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(Key);
        using (await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"gpt-test","messages":[{"role":"user","content":"grafana"}],"lcg":{"documents":["The dashboard reads the metrics."]}}""")))
        {
        }

        using var admin = gateway.CreateHttpClient(GatewayConfig.AdminKey);
        using (var recorded = await admin.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent($$"""{"tenant":"{{Tenant}}","run":"r1","results":[{"kind":"passkey","route":"long_context","model":"gpt-test","length":1000,"depth":0.5,"hit":true},{"route":"long_context","length":1000,"depth":1,"hit":false}]}""")))
        {
            recorded.EnsureSuccessStatusCode();
        }

        var scraped = await ScrapeAsync(gateway, m => m.Keys.Any(k => k.Item1 == "lcg_counterfactual_cost_usd_total") && m.Keys.Any(k => k.Item1 == "lcg_measured_recall"));
        var exported = scraped.Keys.Select(k => k.Name).ToHashSet();
        Assert.Equal(0.5, scraped[("lcg_measured_recall", $"bucket=\"<8K\",route=\"long_context\",tenant=\"{Tenant}\"")]);

        Assert.NotEmpty(expressions);
        Assert.All(used, name => Assert.Contains(name, exported));
    }

    [GeneratedRegex(@"lcg_[a-z_]+")]
    private static partial Regex MetricName();

    [Fact]
    public async Task OneRequest_IsTracedThroughDecideRetrievePositionForwardAndSettle()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "LongContext.Gateway",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == traceId)
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var http = fixture.Gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var created = await http.PostAsync("/v1/vector_stores", ChatCompletionsTests.JsonContent("""{"name":"traced"}"""));
        var corpus = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        using (await http.PostAsync($"/v1/vector_stores/{corpus}/documents", ChatCompletionsTests.JsonContent("""{"documents":[{"text":"The lighthouse keeper feeds the cats at dawn."}]}""")))
        {
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsTests.JsonContent($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"who feeds the cats?"}],"lcg":{"corpus":"{{{corpus}}}","route":"rag"}}"""),
        };
        // The client's request carries this trace (W3C traceparent, as HttpClient propagates it).
        using (new Activity("client").SetParentId(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start())
        {
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!spans.Any(s => s.OperationName == "settle"))
        {
            await Task.Delay(10, deadline.Token);
        }

        var names = spans.Select(s => s.OperationName).ToHashSet();
        Assert.Superset(new HashSet<string> { "decide", "retrieve", "position", "forward", "settle" }, names);
        Assert.Equal("rag", spans.Single(s => s.OperationName == "decide").GetTagItem("lcg.route"));
    }

    /// <summary>Reads /metrics until <paramref name="ready"/> holds (the exporter caches a scrape briefly): (name, sorted labels) → value.</summary>
    private static async Task<Dictionary<(string Name, string Labels), double>> ScrapeAsync(GatewayInstance gateway, Func<Dictionary<(string, string), double>, bool> ready)
    {
        using var http = gateway.CreateHttpClient();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var text = await http.GetStringAsync("/metrics", deadline.Token);
            var metrics = new Dictionary<(string, string), double>();
            foreach (var line in text.Split('\n').Where(l => l.Length > 0 && l[0] != '#'))
            {
                var match = Sample().Match(line);
                if (!match.Success)
                {
                    continue;
                }

                // Labels sorted by name, the exporter's own otel_scope_* labels left out.
                var labels = string.Join(",", match.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("otel_scope", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
                // Gateways of other tests in this process have meters of the same name: their series add up.
                var key = (match.Groups[1].Value, labels);
                metrics[key] = metrics.GetValueOrDefault(key) + double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
            }

            if (ready(metrics))
            {
                return metrics;
            }

            await Task.Delay(100, deadline.Token);
        }
    }

    [GeneratedRegex(@"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)")]
    private static partial Regex Sample();
}
