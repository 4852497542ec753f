using System.Net;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace LongContext.Gateway.Tests;

/// <summary>The dashboard API over the decision log and ledger, and the page in a real browser (Debian's chromium through Playwright).</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class DashboardTests(GatewayFixture fixture)
{
    private const string Tenant = "dash-tenant";
    private const string Key = "sk-dash-tenant-key";

    /// <summary>A gateway with one budgeted tenant that has sent 3 answered requests and 1 that failed upstream.</summary>
    private async Task<GatewayInstance> WorkloadAsync()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        config.Tenants[Tenant] = GatewayConfig.Tenant(Key, "*");
        config.Tenants[Tenant]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = 1 };
        var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(Key);
        for (var i = 0; i < 3; i++)
        {
            using var ok = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"auto","messages":[{"role":"user","content":"dashboard usage:1000,200,0"}]}"""));
            ok.EnsureSuccessStatusCode();
        }

        using var failed = await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent("""{"model":"limited","messages":[{"role":"user","content":"dashboard"}]}"""));
        Assert.Equal(HttpStatusCode.TooManyRequests, failed.StatusCode);
        var log = gateway.Services.GetRequiredService<LedgerStore>().Decisions;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await log.ListAsync(Tenant, DateTimeOffset.UnixEpoch, 100)).Count < 4)
        {
            await Task.Delay(10, deadline.Token);
        }

        return gateway;
    }

    [Fact]
    public async Task Api_NeedsTheAdminKey_AndItsNumbersAreTheLedgers()
    {
        await using var gateway = await WorkloadAsync();
        using var anonymous = gateway.CreateHttpClient();
        using var tenantKey = gateway.CreateHttpClient(Key);
        using var admin = gateway.CreateHttpClient(GatewayConfig.AdminKey);

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/dashboard/summary?tenant={Tenant}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenantKey.GetAsync($"/api/dashboard/summary?tenant={Tenant}")).StatusCode);
        await ErrorAssert.IsOpenAiErrorAsync(await admin.GetAsync("/api/dashboard/summary?tenant=nobody"), HttpStatusCode.NotFound, "not_found", "tenant");

        var summary = JsonNode.Parse(await admin.GetStringAsync($"/api/dashboard/summary?tenant={Tenant}&days=30"))!;
        var ledger = gateway.Services.GetRequiredService<LedgerStore>();
        var usage = await ledger.Spend.GetUsageAsync(Tenant, DateTimeOffset.UtcNow);
        var rows = await ledger.Decisions.ListAsync(Tenant, DateTimeOffset.UnixEpoch, 100);

        Assert.Equal(4, (int)summary["decisions"]!);
        Assert.Equal(3, (int)summary["answered"]!);
        Assert.Equal(usage.MonthUsd, (decimal)summary["cost"]!["routed_actual_usd"]!);
        Assert.Equal(usage.MonthUsd, (decimal)summary["budget"]!["month_spent_usd"]!);
        Assert.Equal(1 - usage.MonthUsd, (decimal)summary["budget"]!["month_remaining_usd"]!);
        Assert.Equal(rows.Where(r => r.Status == "completed").Sum(r => r.EstimatedCostUsd!.Value), (decimal)summary["cost"]!["routed_estimated_usd"]!);
        Assert.True((decimal)summary["cost"]!["all_long_context_usd"]! >= (decimal)summary["cost"]!["routed_estimated_usd"]!);
        Assert.Equal(4, (int)summary["routes"]!["long_context"]!);
        Assert.Equal(1, (int)summary["statuses"]!["failed"]!);
        Assert.Equal(rows.Select(r => r.Id.ToString()), summary["latest"]!.AsArray().Select(r => (string)r!["id"]!));
        Assert.NotEmpty(summary["curves"]!.AsArray());

        var first = rows[0];
        var detail = JsonNode.Parse(await admin.GetStringAsync($"/api/dashboard/decisions/{first.Id}?tenant={Tenant}"))!;
        Assert.Equal(first.Explanation, (string)detail["explanation"]!);
        Assert.Equal(first.Id.ToString(), (string)detail["decision"]!["id"]!);
    }

    [Fact]
    public async Task RecordingEvaluations_NeedsTheAdminKey_AndWellFormedResults()
    {
        await using var gateway = await GatewayInstance.StartAsync(GatewayConfig.Standard(fixture.Stub));
        using var tenantKey = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var admin = gateway.CreateHttpClient(GatewayConfig.AdminKey);
        const string Good = """{"tenant":"acme","results":[{"route":"rag","length":500,"depth":0.5,"hit":true}]}""";

        Assert.Equal(HttpStatusCode.Unauthorized, (await tenantKey.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent(Good))).StatusCode);
        await ErrorAssert.IsOpenAiErrorAsync(await admin.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent("""{"tenant":"acme","results":[{"route":"rag","length":500,"depth":1.5,"hit":true}]}""")), HttpStatusCode.BadRequest, "invalid_value", "results[0]");
        await ErrorAssert.IsOpenAiErrorAsync(await admin.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent("""{"tenant":"acme","results":[]}""")), HttpStatusCode.BadRequest, "missing_required_parameter", "results");
        await ErrorAssert.IsOpenAiErrorAsync(await admin.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent("""{"tenant":"nobody","results":[{"route":"rag","length":500,"depth":0.5,"hit":true}]}""")), HttpStatusCode.NotFound, "not_found", "tenant");
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/api/evaluations", ChatCompletionsTests.JsonContent(Good))).StatusCode);

        // Nothing of the rejected posts was kept: only the good probe counts.
        var summary = JsonNode.Parse(await admin.GetStringAsync("/api/dashboard/summary?tenant=acme&days=1"))!;
        var cell = summary["recall"]!.AsArray().Single(c => (string)c!["route"]! == "rag")!;
        Assert.Equal((1, 1.0), ((int)cell["measured_probes"]!, (double)cell["measured_recall"]!));
    }

    [Fact]
    public async Task Page_RendersItsChartsFromTheWorkload_InChromium()
    {
        await using var gateway = await WorkloadAsync();
        using var admin = gateway.CreateHttpClient(GatewayConfig.AdminKey);
        var summary = JsonNode.Parse(await admin.GetStringAsync($"/api/dashboard/summary?tenant={Tenant}"))!;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1400 } });
        var outside = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(gateway.BaseAddress.ToString(), StringComparison.Ordinal))
            {
                outside.Add(request.Url);
            }
        };

        await page.GotoAsync(new Uri(gateway.BaseAddress, "/dashboard").ToString());
        await page.FillAsync("#key", GatewayConfig.AdminKey);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync($"#tenant option[value={Tenant}]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        await page.SelectOptionAsync("#tenant", Tenant);
        await page.WaitForFunctionAsync($"document.getElementById('status').textContent.startsWith('{Tenant}:')");

        // Cost chart: one bar per series for today, the routed bar at the API's routed estimate.
        var routed = await page.Locator("#cost-chart rect[data-series=routed]").GetAttributeAsync("data-value");
        Assert.Equal((double)summary["cost"]!["routed_estimated_usd"]!, double.Parse(routed!, System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal(1, await page.Locator("#cost-chart rect[data-series=long_context]").CountAsync());
        Assert.Equal(1, await page.Locator("#cost-chart rect[data-series=rag]").CountAsync());
        // Route mix: the 4 long-context decisions.
        Assert.Equal("4", await page.Locator("#route-chart rect[data-series=long_context]").GetAttributeAsync("data-value"));
        // One line per context-rot curve; a budget line with its projection.
        Assert.Equal(summary["curves"]!.AsArray().Count, await page.Locator("#curves-chart polyline").CountAsync());
        Assert.Equal(1, await page.Locator("#budget-chart polyline[data-series=projection]").CountAsync());
        Assert.Equal(4, await page.Locator("#decisions tbody tr").CountAsync());

        // One click to a decision's full detail.
        await page.Locator("#decisions tbody tr").First.ClickAsync();
        await page.WaitForSelectorAsync("#detail:not([hidden])");
        Assert.Contains("candidates", await page.InnerTextAsync("#detail-json"), StringComparison.Ordinal);

        // A test artifact: under artifacts/ when run by scripts/test.sh, beside the test binary otherwise.
        var screenshot = Path.Combine(Environment.GetEnvironmentVariable("LCG_TEST_ARTIFACTS") ?? Path.Combine(AppContext.BaseDirectory, "TestResults"), "dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
        Assert.Empty(outside);
    }
}
