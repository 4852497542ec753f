using System.Diagnostics;
using System.Text.Json.Nodes;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Tests;

public sealed class SettingsValidationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-settings-").FullName;

    public static TheoryData<string, string> BrokenConfigs => new()
    {
        { "bad-hash", "Tenants:acme:ApiKeyHashes:0" },
        { "no-hashes", "Tenants:acme:ApiKeyHashes" },
        { "shared-key", "Tenants:globex:ApiKeyHashes:0" },
        { "unknown-allowed-model", "Tenants:globex:AllowedModels:1" },
        { "no-allowed-models", "Tenants:globex:AllowedModels" },
        { "unknown-upstream", "Models:gpt-test:Upstream" },
        { "missing-upstream", "Models:gpt-test:Upstream" },
        { "relative-address", "Upstreams:stub:Destinations:main:Address" },
        { "ftp-address", "Upstreams:stub:Destinations:main:Address" },
        { "no-destinations", "Upstreams:stub:Destinations" },
        { "zero-timeout", "Upstreams:stub:ActivityTimeout" },
        { "absolute-health-path", "Upstreams:stub:HealthPath" },
        { "negative-retries", "Upstreams:stub:Resilience:MaxRetries" },
        { "zero-first-byte-timeout", "Upstreams:stub:Resilience:FirstByteTimeout" },
        { "failure-ratio-above-one", "Upstreams:stub:Resilience:CircuitBreaker:FailureRatio" },
        { "tiny-break", "Upstreams:stub:Resilience:CircuitBreaker:BreakDuration" },
        { "tiny-body-limit", "Gateway:Limits:MaxRequestBodyBytes" },
        { "huge-depth", "Gateway:Limits:MaxJsonDepth" },
        { "no-tenants", "Tenants" },
        { "chat-model-without-routing", "Models:gpt-test:Routing" },
        { "no-window", "Models:gpt-test:Routing:ContextWindow" },
        { "no-prices", "Models:gpt-test:Routing:Prices" },
        { "negative-price", "Models:gpt-test:Routing:Prices:InputPerMillion" },
        { "prices-and-self-hosted", "Models:gpt-test:Routing" },
        { "self-hosted-without-attention", "Models:gpt-test:Routing:SelfHosted:Attention" },
        { "bad-max-tokens-field", "Models:gpt-test:MaxTokensField" },
        { "unknown-objective", "Tenants:acme:Policy:Objective" },
        { "unknown-route", "Tenants:acme:Policy:AllowedRoutes:0" },
        { "recall-floor-above-one", "Tenants:acme:Policy:RecallFloor" },
        { "negative-budget", "Tenants:acme:Policy:MonthlyBudgetUsd" },
        { "auto-model-clash", "Routing:AutoModel" },
        { "escalation-probability", "Routing:Rag:EscalationProbability" },
        { "blank-marker", "Routing:Hybrid:Marker" },
        { "metrics-path-in-v1", "Telemetry:MetricsPath" },
        { "relative-otlp-endpoint", "Telemetry:OtlpEndpoint" },
        { "negative-prior-weight", "Routing:Hybrid:PriorWeight" },
        { "unknown-ledger", "Ledger:Store" },
        { "postgres-without-connection", "Ledger:PostgresConnectionString" },
        { "unknown-sqlite-sync", "Ledger:SqliteSynchronous" },
    };

    public static TheoryData<string, string> BrokenFiles => new()
    {
        { "unknown-curve", "Models:gpt-test:Routing:ContextRot" },
        { "curve-without-source", "no Source" },
        { "curve-recall-above-one", "Points[1].Recall" },
        { "curve-unsorted", "Points[1].Tokens" },
        { "curve-not-json", "is not valid JSON" },
        { "no-curve-directory", "Routing:ContextRotDirectory" },
        { "no-prompt-template", "Routing:Hybrid:PromptTemplate" },
        { "prompt-without-marker", "{{$marker}}" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public async Task BrokenRoutingFile_HostRefusesToStart_NamingTheFileOrKey(string breakage, string expected)
    {
        var config = Standard();
        var curve = config.Curves[GatewayConfig.TestCurve];
        string? rawCurve = null;
        string? rawPrompt = null;
        switch (breakage)
        {
            case "unknown-curve": config.Models["gpt-test"]!["Routing"]!["ContextRot"] = "no-such-curve"; break;
            case "curve-without-source": curve.Remove("Source"); break;
            case "curve-recall-above-one": curve["Points"]![1]!["Recall"] = 1.5; break;
            case "curve-unsorted": curve["Points"]![1]!["Tokens"] = 5; break;
            case "curve-not-json": rawCurve = "{ not json"; break;
            case "no-curve-directory": config.Routing["Routing"]!["ContextRotDirectory"] = "config/missing"; break;
            case "no-prompt-template": config.Routing["Routing"]!["Hybrid"] = new JsonObject { ["PromptTemplate"] = "config/prompts/missing.txt" }; break;
            case "prompt-without-marker": rawPrompt = "Answer from {{$context}}."; break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }

        var settingsPath = config.WriteTo(_directory);
        if (rawPrompt is not null)
        {
            File.WriteAllText(Path.Combine(_directory, "config", "prompts", "self-route.txt"), rawPrompt);
        }

        if (rawCurve is not null)
        {
            File.WriteAllText(Path.Combine(_directory, "config", "context-rot", GatewayConfig.TestCurve + ".json"), rawCurve);
        }

        var error = await Assert.ThrowsAsync<GatewayStartupException>(async () =>
        {
            await using var app = GatewayInstance.Build(settingsPath);
            await app.StartAsync();
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public async Task BrokenSetting_HostRefusesToStart_NamingTheKey(string breakage, string key)
    {
        var config = Break(breakage);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GatewayInstance.Build(config.WriteTo(_directory));
            await app.StartAsync();
        });

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingIncludedFile_HostRefusesToStart_NamingTheIncludeEntry()
    {
        var config = Standard();
        config.Settings["Gateway"]!["Include"]!.AsArray().Add("config/prices.json");

        var error = Assert.Throws<GatewayStartupException>(() => GatewayInstance.Build(config.WriteTo(_directory)));

        Assert.Contains("Gateway:Include:4", error.Message, StringComparison.Ordinal);
        Assert.Contains("config/prices.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingSettingsFile_HostRefusesToStart_SayingWhereItLooked()
    {
        var missing = Path.Combine(_directory, "nowhere", "appsettings.json");

        var error = Assert.Throws<GatewayStartupException>(() => GatewayInstance.Build(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenSetting_GatewayProcess_ExitsWithMessageNamingTheKey()
    {
        var config = Break("unknown-upstream");
        var settings = config.WriteTo(_directory);
        var gatewayDll = Path.Combine(AppContext.BaseDirectory, "LongContext.Gateway.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", ["exec", gatewayDll, "--settings", settings, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;

        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("cannot start", stderr, StringComparison.Ordinal);
        Assert.Contains("Models:gpt-test:Upstream", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnvironmentVariable_OverridesIncludedFile()
    {
        // The documented way to give an upstream its key: the environment beats config/ files.
        var config = Standard();
        config.Upstreams["stub"]!["ApiKey"] = "from-file";
        await using var app = GatewayInstance.Build(config.WriteTo(_directory), "--Upstreams:stub:ApiKey", "from-command-line");

        var settings = app.Services.GetRequiredService<IOptions<LongContext.Gateway.Configuration.GatewaySettings>>().Value;

        Assert.Equal("from-command-line", settings.Upstreams["stub"].ApiKey);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static GatewayConfig Standard()
    {
        var config = new GatewayConfig();
        config.Upstreams["stub"] = GatewayConfig.Upstream("http://127.0.0.1:9/v1/");
        config.Models["gpt-test"] = GatewayConfig.ChatModel("stub", "gpt-test", input: 1m, output: 2m, window: 128_000);
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["globex"] = GatewayConfig.Tenant(GatewayConfig.GlobexKey, "gpt-test");
        return config;
    }

    private static GatewayConfig Break(string breakage)
    {
        var config = Standard();
        var stub = config.Upstreams["stub"]!.AsObject();
        switch (breakage)
        {
            case "bad-hash": config.Tenants["acme"]!["ApiKeyHashes"] = new JsonArray("sk-plaintext-key"); break;
            case "no-hashes": config.Tenants["acme"]!["ApiKeyHashes"] = new JsonArray(); break;
            case "shared-key": config.Tenants["globex"]!["ApiKeyHashes"] = config.Tenants["acme"]!["ApiKeyHashes"]!.DeepClone(); break;
            case "unknown-allowed-model": config.Tenants["globex"]!["AllowedModels"] = new JsonArray("gpt-test", "gpt-9"); break;
            case "no-allowed-models": config.Tenants["globex"]!["AllowedModels"] = new JsonArray(); break;
            case "unknown-upstream": config.Models["gpt-test"]!["Upstream"] = "nowhere"; break;
            case "missing-upstream": config.Models["gpt-test"] = new JsonObject { ["UpstreamModel"] = "x" }; break;
            case "relative-address": stub["Destinations"]!["main"]!["Address"] = "localhost/v1"; break;
            case "ftp-address": stub["Destinations"]!["main"]!["Address"] = "ftp://127.0.0.1/v1"; break;
            case "no-destinations": stub.Remove("Destinations"); break;
            case "zero-timeout": stub["ActivityTimeout"] = "00:00:00"; break;
            case "absolute-health-path": stub["HealthPath"] = "/v1/models"; break;
            case "negative-retries": stub["Resilience"] = new JsonObject { ["MaxRetries"] = -1 }; break;
            case "zero-first-byte-timeout": stub["Resilience"] = new JsonObject { ["FirstByteTimeout"] = "00:00:00" }; break;
            case "failure-ratio-above-one": stub["Resilience"] = new JsonObject { ["CircuitBreaker"] = new JsonObject { ["FailureRatio"] = 1.5 } }; break;
            case "tiny-break": stub["Resilience"] = new JsonObject { ["CircuitBreaker"] = new JsonObject { ["BreakDuration"] = "00:00:00.010" } }; break;
            case "tiny-body-limit": config.Settings["Gateway"]!["Limits"]!["MaxRequestBodyBytes"] = 10; break;
            case "huge-depth": config.Settings["Gateway"]!["Limits"]!["MaxJsonDepth"] = 100000; break;
            case "no-tenants": config.Tenants.Clear(); break;
            case "chat-model-without-routing": config.Models["gpt-test"]!.AsObject().Remove("Routing"); break;
            case "no-window": Routing(config).Remove("ContextWindow"); break;
            case "no-prices": Routing(config).Remove("Prices"); break;
            case "negative-price": Routing(config)["Prices"]!["InputPerMillion"] = -1; break;
            case "prices-and-self-hosted": Routing(config)["SelfHosted"] = SelfHosted(); break;
            case "self-hosted-without-attention":
                Routing(config).Remove("Prices");
                Routing(config)["SelfHosted"] = SelfHosted();
                Routing(config)["SelfHosted"]!.AsObject().Remove("Attention");
                break;
            case "bad-max-tokens-field": config.Models["gpt-test"]!["MaxTokensField"] = "max_output"; break;
            case "unknown-objective": config.Tenants["acme"]!["Policy"] = new JsonObject { ["Objective"] = "Cheapest" }; break;
            case "unknown-route": config.Tenants["acme"]!["Policy"] = new JsonObject { ["AllowedRoutes"] = new JsonArray("stuffing") }; break;
            case "recall-floor-above-one": config.Tenants["acme"]!["Policy"] = new JsonObject { ["RecallFloor"] = 1.5 }; break;
            case "negative-budget": config.Tenants["acme"]!["Policy"] = new JsonObject { ["MonthlyBudgetUsd"] = -5 }; break;
            case "auto-model-clash": config.Routing["Routing"]!["AutoModel"] = "gpt-test"; break;
            case "escalation-probability": config.Routing["Routing"]!["Rag"] = new JsonObject { ["EscalationProbability"] = 2 }; break;
            case "metrics-path-in-v1": config.Settings["Telemetry"] = new JsonObject { ["MetricsPath"] = "/v1/metrics" }; break;
            case "relative-otlp-endpoint": config.Settings["Telemetry"] = new JsonObject { ["OtlpEndpoint"] = "collector:4317" }; break;
            case "blank-marker": config.Routing["Routing"]!["Hybrid"] = new JsonObject { ["Marker"] = " " }; break;
            case "negative-prior-weight": config.Routing["Routing"]!["Hybrid"] = new JsonObject { ["PriorWeight"] = -1 }; break;
            case "unknown-ledger": config.Routing["Ledger"]!["Store"] = "Redis"; break;
            case "postgres-without-connection": config.Routing["Ledger"]!["Store"] = "Postgres"; break;
            case "unknown-sqlite-sync": config.Routing["Ledger"]!["SqliteSynchronous"] = "Off"; break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }

        return config;
    }

    private static JsonObject Routing(GatewayConfig config) => config.Models["gpt-test"]!["Routing"]!.AsObject();

    private static JsonObject SelfHosted() => new()
    {
        ["GpuHourUsd"] = 2,
        ["GpuMemoryGb"] = 80,
        ["Kv"] = new JsonObject { ["Layers"] = 32, ["KvHeads"] = 8, ["HeadDim"] = 128 },
        ["Attention"] = new JsonObject { ["full"] = new JsonObject() },
    };
}
