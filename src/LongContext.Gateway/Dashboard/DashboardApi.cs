using System.Globalization;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Routing;
using LongContext.Ledger.Decisions;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Dashboard;

/// <summary>Context-length buckets (tokens), by upper bound, shared by the dashboard and the metrics.</summary>
internal static class ContextBuckets
{
    public static readonly (long Below, string Name)[] All = [(8_192, "<8K"), (32_768, "8K-32K"), (131_072, "32K-128K"), (1_048_576, "128K-1M"), (long.MaxValue, ">1M")];

    public static string Of(long tokens) => All.First(b => tokens < b.Below).Name;
}

/// <summary>
/// The dashboard: a page at <c>/dashboard</c> (assets shipped inside the gateway, nothing from a
/// CDN) over a JSON API at <c>/api/dashboard</c> that reads the decision log and the ledger, for
/// admin keys only.
/// <list type="bullet">
/// <item><c>GET /api/dashboard/tenants</c>: the tenant ids.</item>
/// <item><c>GET /api/dashboard/summary?tenant=ID&amp;days=30</c>: cost routed against every
/// request on long context and every request on RAG (per day and in total), the route mix,
/// expected recall per route and context-length bucket, the hybrid escalation rate, the budget
/// with its burn-down and month-end projection, the context-rot curves of the tenant's models,
/// the latest decisions.</item>
/// <item><c>GET /api/dashboard/decisions/{id}?tenant=ID</c>: one decision with its full detail.</item>
/// <item><c>POST /api/evaluations</c>: scored probes of an evaluation run (<c>eval --record</c>), the
/// measured recall the summary and <c>lcg_measured_recall</c> show.</item>
/// </list>
/// </summary>
internal static class DashboardApi
{
    private static readonly string[] Assets = ["dashboard.html", "dashboard.js", "dashboard.css"];

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet("/dashboard", () => Asset("dashboard.html"));
        app.MapGet("/dashboard/assets/{name}", (string name) => Assets.Contains(name, StringComparer.Ordinal) ? Asset(name) : Results.NotFound());
        var api = app.MapGroup("/api/dashboard").AddEndpointFilter<AdminAuthenticationFilter>();
        api.MapGet("/tenants", (IOptions<GatewaySettings> settings) => Json(new JsonObject { ["tenants"] = new JsonArray([.. settings.Value.Tenants.Keys.Order(StringComparer.Ordinal).Select(t => JsonValue.Create(t))]) }));
        api.MapGet("/summary", SummaryAsync);
        api.MapGet("/decisions/{id:guid}", DecisionAsync);
        app.MapPost("/api/evaluations", RecordEvaluationsAsync).AddEndpointFilter<AdminAuthenticationFilter>();
        return app;
    }

    private static IResult Asset(string name)
    {
        using var stream = typeof(DashboardApi).Assembly.GetManifestResourceStream("LongContext.Gateway.Dashboard.assets." + name)
            ?? throw new InvalidOperationException($"The dashboard asset {name} is not embedded.");
        using var reader = new StreamReader(stream);
        var type = Path.GetExtension(name) switch { ".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8", _ => "text/css; charset=utf-8" };
        return Results.Content(reader.ReadToEnd(), type);
    }

    private static async Task<IResult> SummaryAsync(string? tenant, int? days, DashboardQueries queries, IOptions<GatewaySettings> settings, CancellationToken cancellationToken)
    {
        if (TenantError(tenant, settings) is { } error)
        {
            return error;
        }

        if (days is < 1 or > 366)
        {
            return OpenAiErrors.InvalidValue("days", $"must be 1 to 366 (got {days}).");
        }

        return Json(await queries.SummaryAsync(tenant!, days ?? 30, cancellationToken));
    }

    private static async Task<IResult> DecisionAsync(Guid id, string? tenant, LedgerStore ledger, IOptions<GatewaySettings> settings, CancellationToken cancellationToken)
    {
        if (TenantError(tenant, settings) is { } error)
        {
            return error;
        }

        return await ledger.Decisions.GetAsync(tenant!, id, cancellationToken) is { } record
            ? Json(DashboardQueries.Row(record, detail: true))
            : new OpenAiErrorResult(StatusCodes.Status404NotFound, new($"No decision {id} for tenant '{tenant}'.", "invalid_request_error", "id", "not_found"));
    }

    private static async Task<IResult> RecordEvaluationsAsync(HttpContext context, JsonBodyReader reader, LedgerStore ledger, Telemetry.GatewayTelemetry telemetry, IOptions<GatewaySettings> settings, TimeProvider time)
    {
        var (body, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
        if (error is not null)
        {
            return error;
        }

        var tenant = body!["tenant"] is JsonValue t && t.TryGetValue<string>(out var id) ? id : null;
        if (TenantError(tenant, settings) is { } tenantError)
        {
            return tenantError;
        }

        if (body["results"] is not JsonArray { Count: > 0 } results)
        {
            return OpenAiErrors.MissingParameter("results");
        }

        var run = body["run"] is JsonValue r && r.TryGetValue<string>(out var name) ? name : Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow();
        var records = new List<EvaluationRecord>(results.Count);
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is not JsonObject item
                || item["route"] is not JsonValue route || !route.TryGetValue<string>(out var routeName)
                || item["length"] is not JsonValue length || !length.TryGetValue<long>(out var tokens) || tokens < 1
                || item["depth"] is not JsonValue depth || !depth.TryGetValue<double>(out var at) || at is < 0 or > 1
                || item["hit"] is not JsonValue hit || !hit.TryGetValue<bool>(out var found))
            {
                return OpenAiErrors.InvalidValue($"results[{i}]", "needs route (string), length (tokens ≥ 1), depth (0–1) and hit (true/false).");
            }

            records.Add(new EvaluationRecord(Guid.CreateVersion7(now), tenant!, now, run, item["kind"]?.ToString() ?? "probe", routeName, item["model"]?.ToString(), tokens, at, found));
        }

        await ledger.Evaluations.RecordEvaluationsAsync(records, context.RequestAborted);
        foreach (var cell in records.GroupBy(x => (x.Route, Bucket: ContextBuckets.Of(x.LengthTokens))))
        {
            telemetry.MeasuredRecall(tenant!, cell.Key.Route, cell.Key.Bucket, cell.Count(x => x.Hit) / (double)cell.Count());
        }

        return Json(new JsonObject { ["object"] = "evaluation.recorded", ["run"] = run, ["probes"] = records.Count });
    }

    private static OpenAiErrorResult? TenantError(string? tenant, IOptions<GatewaySettings> settings) =>
        string.IsNullOrEmpty(tenant) ? OpenAiErrors.MissingParameter("tenant")
        : !settings.Value.Tenants.ContainsKey(tenant) ? new OpenAiErrorResult(StatusCodes.Status404NotFound, new($"No tenant '{tenant}'.", "invalid_request_error", "tenant", "not_found"))
        : null;

    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>JSON as text: timestamps keep their "+00:00" and explanations their symbols (the response is JSON, never HTML).</summary>
    private static IResult Json(JsonObject value) => Results.Content(value.ToJsonString(Readable), "application/json");
}

/// <summary>The dashboard's numbers, computed from the decision log and the ledger.</summary>
internal sealed class DashboardQueries(LedgerStore ledger, RoutingCatalog routing, IOptions<GatewaySettings> settings, TimeProvider time)
{
    private static readonly (long Below, string Name)[] Buckets = ContextBuckets.All;

    public async Task<JsonObject> SummaryAsync(string tenant, int days, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var since = now.AddDays(-days);
        var rows = await ledger.Decisions.ListAsync(tenant, since, 1_000_000, cancellationToken);
        // Requests that were answered (or cut short, and paid): the ones that cost something, on every route.
        var spent = rows.Where(r => r.Status is DecisionStatuses.Completed or DecisionStatuses.Cancelled || (r.Status == DecisionStatuses.Failed && r.ActualCostUsd > 0)).ToList();

        decimal Had(DecisionRecord r, string route) =>
            r.Route == route ? r.EstimatedCostUsd ?? 0
            : r.CounterfactualCostsUsd.Where(c => c.Key.StartsWith(route + ":", StringComparison.Ordinal)).Select(c => (decimal?)c.Value).Min() ?? r.EstimatedCostUsd ?? 0;

        var daily = new JsonArray();
        foreach (var day in spent.GroupBy(r => r.CreatedAt.UtcDateTime.Date).OrderBy(g => g.Key))
        {
            daily.Add(new JsonObject
            {
                ["date"] = day.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["requests"] = day.Count(),
                ["routed_actual_usd"] = day.Sum(r => r.ActualCostUsd ?? 0),
                ["routed_estimated_usd"] = day.Sum(r => r.EstimatedCostUsd ?? 0),
                ["all_long_context_usd"] = day.Sum(r => Had(r, "long_context")),
                ["all_rag_usd"] = day.Sum(r => Had(r, "rag")),
            });
        }

        var routedEstimated = spent.Sum(r => r.EstimatedCostUsd ?? 0);
        var allLongContext = spent.Sum(r => Had(r, "long_context"));
        var hybrid = spent.Where(r => r.Escalated is not null).ToList();
        // Expected recall from the decisions; measured recall from evaluation runs (eval --record) in the same period.
        var expected = spent.Where(r => r.ExpectedRecall is not null).GroupBy(r => (Route: r.Route ?? "none", Bucket: Bucket(r.EstimatedPromptTokens)))
            .ToDictionary(g => g.Key, g => (Requests: g.Count(), Recall: g.Average(r => r.ExpectedRecall!.Value)));
        var measured = (await ledger.Evaluations.MeasuredRecallAsync(tenant, since, cancellationToken)).GroupBy(m => (m.Route, Bucket: Bucket(m.LengthTokens)))
            .ToDictionary(g => g.Key, g => (Probes: g.Sum(m => m.Probes), Hits: g.Sum(m => m.Hits)));
        var recall = new JsonArray();
        foreach (var key in expected.Keys.Union(measured.Keys).OrderBy(k => k.Route, StringComparer.Ordinal).ThenBy(k => Array.FindIndex(Buckets, b => b.Name == k.Bucket)))
        {
            var (hasExpected, hasMeasured) = (expected.TryGetValue(key, out var e), measured.TryGetValue(key, out var m));
            recall.Add(new JsonObject
            {
                ["route"] = key.Route,
                ["bucket"] = key.Bucket,
                ["requests"] = hasExpected ? e.Requests : 0,
                ["expected_recall"] = hasExpected ? Math.Round(e.Recall, 4) : null,
                ["measured_probes"] = hasMeasured ? m.Probes : 0,
                ["measured_recall"] = hasMeasured && m.Probes > 0 ? Math.Round(m.Hits / (double)m.Probes, 4) : null,
            });
        }

        return new JsonObject
        {
            ["object"] = "dashboard.summary",
            ["tenant"] = tenant,
            ["since"] = since.ToString("O", CultureInfo.InvariantCulture),
            ["until"] = now.ToString("O", CultureInfo.InvariantCulture),
            ["decisions"] = rows.Count,
            ["answered"] = spent.Count,
            ["cost"] = new JsonObject
            {
                ["routed_actual_usd"] = spent.Sum(r => r.ActualCostUsd ?? 0),
                ["routed_estimated_usd"] = routedEstimated,
                ["all_long_context_usd"] = allLongContext,
                ["all_rag_usd"] = spent.Sum(r => Had(r, "rag")),
                ["savings_vs_long_context_usd"] = allLongContext - routedEstimated,
                ["daily"] = daily,
            },
            ["routes"] = new JsonObject([.. rows.GroupBy(r => r.Route ?? "none").OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Count()))]),
            ["statuses"] = new JsonObject([.. rows.GroupBy(r => r.Status).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Count()))]),
            ["hybrid"] = new JsonObject { ["requests"] = hybrid.Count, ["escalated"] = hybrid.Count(r => r.Escalated == true) },
            ["recall"] = recall,
            ["budget"] = await BudgetAsync(tenant, now, cancellationToken),
            ["curves"] = Curves(tenant),
            ["latest"] = new JsonArray([.. rows.Take(25).Select(r => (JsonNode)Row(r, detail: false))]),
        };
    }

    private async Task<JsonObject> BudgetAsync(string tenant, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var limits = routing.LimitsOf(tenant);
        var usage = await ledger.Spend.GetUsageAsync(tenant, now, cancellationToken);
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var monthEnd = monthStart.AddMonths(1);
        var elapsed = (now - monthStart) / (monthEnd - monthStart);
        var month = await ledger.Decisions.ListAsync(tenant, monthStart, 1_000_000, cancellationToken);
        var burn = new JsonArray();
        var cumulative = 0m;
        foreach (var day in month.Where(r => r.ActualCostUsd is not null).GroupBy(r => r.CreatedAt.UtcDateTime.Date).OrderBy(g => g.Key))
        {
            cumulative += day.Sum(r => r.ActualCostUsd!.Value);
            burn.Add(new JsonObject
            {
                ["date"] = day.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["spent_usd"] = cumulative,
                ["remaining_usd"] = limits.MonthlyUsd is { } monthly ? monthly - cumulative : null,
            });
        }

        return new JsonObject
        {
            ["monthly_usd"] = limits.MonthlyUsd,
            ["daily_usd"] = limits.DailyUsd,
            // What the ledger holds for the month: committed spend plus open reservations.
            ["month_spent_usd"] = usage.MonthUsd,
            ["day_spent_usd"] = usage.DayUsd,
            ["month_remaining_usd"] = limits.MonthlyUsd is { } m ? m - usage.MonthUsd : null,
            ["projected_month_usd"] = elapsed > 0 ? Math.Round(usage.MonthUsd / (decimal)elapsed, 9) : usage.MonthUsd,
            ["burn_down"] = burn,
        };
    }

    private JsonArray Curves(string tenant)
    {
        var allowed = settings.Value.Tenants[tenant].AllowedModels;
        var curves = new JsonArray();
        foreach (var profile in routing.Profiles.Values.Where(p => allowed.Contains("*") || allowed.Contains(p.Id)).OrderBy(p => p.Id, StringComparer.Ordinal))
        {
            curves.Add(new JsonObject
            {
                ["model"] = profile.Id,
                ["curve"] = profile.ContextRot.Name,
                ["source"] = profile.ContextRot.Source,
                ["middle_dip"] = profile.ContextRot.MiddleDip,
                ["points"] = new JsonArray([.. profile.ContextRot.Points.Select(p => (JsonNode)new JsonObject { ["tokens"] = p.Tokens, ["recall"] = p.Recall })]),
            });
        }

        return curves;
    }

    private static string Bucket(long tokens) => ContextBuckets.Of(tokens);

    public static JsonObject Row(DecisionRecord r, bool detail)
    {
        var row = new JsonObject
        {
            ["id"] = r.Id.ToString(),
            ["created_at"] = r.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
            ["outcome"] = r.Outcome,
            ["status"] = r.Status,
            ["route"] = r.Route,
            ["candidate"] = r.CandidateId,
            ["model"] = r.Model,
            ["corpus"] = r.Corpus,
            ["escalated"] = r.Escalated,
            ["estimated_cost_usd"] = r.EstimatedCostUsd,
            ["actual_cost_usd"] = r.ActualCostUsd,
            ["expected_recall"] = r.ExpectedRecall,
            ["prompt_tokens"] = r.PromptTokens ?? r.EstimatedPromptTokens,
            ["explanation"] = r.Explanation,
        };
        if (detail)
        {
            row["counterfactual_costs_usd"] = new JsonObject([.. r.CounterfactualCostsUsd.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))]);
            row["rag_step_cost_usd"] = r.RagStepCostUsd;
            row["long_context_step_cost_usd"] = r.LongContextStepCostUsd;
            row["decision"] = JsonNode.Parse(r.DetailJson);
        }

        return row;
    }
}
