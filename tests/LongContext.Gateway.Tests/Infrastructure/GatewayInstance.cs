using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json.Nodes;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tenancy;
using Microsoft.AspNetCore.Builder;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace LongContext.Gateway.Tests.Infrastructure;

/// <summary>
/// The real gateway on real Kestrel at a free 127.0.0.1 port, started from a settings file and
/// config/ files written to a temporary folder exactly as a user would lay them out.
/// </summary>
internal sealed class GatewayInstance : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private GatewayInstance(WebApplication app, string directory, Uri baseAddress)
    {
        _app = app;
        _directory = directory;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    public Uri V1 => new(BaseAddress, "/v1");

    public HttpClient CreateHttpClient(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        }

        return client;
    }

    public OpenAIClientOptions ClientOptions() => new()
    {
        Endpoint = V1,
        // The gateway's answers are under test: the SDK must not retry them away.
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = TimeSpan.FromSeconds(30),
    };

    public ChatClient Chat(string model, string apiKey) => new(model, new ApiKeyCredential(apiKey), ClientOptions());

    public EmbeddingClient Embeddings(string model, string apiKey) => new(model, new ApiKeyCredential(apiKey), ClientOptions());

    public OpenAIModelClient Models(string apiKey) => new(new ApiKeyCredential(apiKey), ClientOptions());

    /// <summary>Writes the settings file and its config/ files to a fresh folder and starts the gateway on them.</summary>
    public static async Task<GatewayInstance> StartAsync(GatewayConfig config, params string[] extraArgs)
    {
        var directory = Directory.CreateTempSubdirectory("lcg-gateway-").FullName;
        var settingsPath = config.WriteTo(directory);
        var app = Build(settingsPath, extraArgs);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw;
        }

        return new GatewayInstance(app, directory, new Uri(app.Urls.Single()));
    }

    public static WebApplication Build(string? settingsPath, params string[] extraArgs)
    {
        string[] args = [.. settingsPath is null ? [] : new[] { "--settings", settingsPath }, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning", .. extraArgs];
        return GatewayApp.Build(args);
    }

    /// <summary>
    /// The tenant's decision-log rows once there are at least <paramref name="count"/>: a client can
    /// read the end of an answer a moment before the gateway has settled it and written its row.
    /// </summary>
    public async Task<IReadOnlyList<LongContext.Ledger.Decisions.DecisionRecord>> SettledDecisionsAsync(int count, string tenant = "acme")
    {
        var log = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Accounting.LedgerStore>(Services).Decisions;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        IReadOnlyList<LongContext.Ledger.Decisions.DecisionRecord> decisions;
        while ((decisions = await log.ListAsync(tenant, DateTimeOffset.UnixEpoch, 1000)).Count < count)
        {
            await Task.Delay(10, deadline.Token);
        }

        return decisions;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Test tenants, models and upstreams, shaped like config/*.json.</summary>
internal sealed class GatewayConfig
{
    public const string AcmeKey = "sk-acme-test-key";
    public const string GlobexKey = "sk-globex-test-key";
    public const string AdminKey = "sk-admin-test-key";

    public JsonObject Settings { get; } = new()
    {
        ["Gateway"] = new JsonObject
        {
            ["Include"] = new JsonArray("config/upstreams.json", "config/models.json", "config/routing.json", "config/tenants.json"),
            ["Limits"] = new JsonObject { ["MaxRequestBodyBytes"] = 64 * 1024, ["MaxJsonDepth"] = 32 },
            ["AdminKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(AdminKey)),
        },
    };

    public JsonObject Upstreams { get; } = [];

    public JsonObject Models { get; } = [];

    public JsonObject Tenants { get; } = [];

    /// <summary>The Routing and Ledger sections (config/routing.json); the ledger is a SQLite file in the test's folder.</summary>
    public JsonObject Routing { get; } = new()
    {
        [nameof(Routing)] = new JsonObject { ["DefaultMaxOutputTokens"] = 100 },
        ["Ledger"] = new JsonObject { ["Store"] = "Sqlite", ["SqlitePath"] = "data/ledger.db" },
        ["Corpora"] = new JsonObject { ["Directory"] = "data/corpora" },
    };

    /// <summary>Context-rot curve files by name (config/context-rot/NAME.json).</summary>
    public Dictionary<string, JsonObject> Curves { get; } = new()
    {
        [TestCurve] = new JsonObject
        {
            ["Source"] = "test curve: 90% up to 10K tokens, 50% at 1M",
            ["MiddleDip"] = 0.2,
            ["Points"] = new JsonArray(
                new JsonObject { ["Tokens"] = 10_000, ["Recall"] = 0.9 },
                new JsonObject { ["Tokens"] = 1_000_000, ["Recall"] = 0.5 }),
        },
    };

    public const string TestCurve = "test-curve";

    /// <summary>The usual set-up: the stub as upstream, two tenants with different model rights.</summary>
    public static GatewayConfig Standard(StubUpstream stub)
    {
        var config = new GatewayConfig();
        config.Upstreams["stub"] = Upstream(stub.BaseAddress.ToString(), apiKey: StubUpstream.ApiKey);
        config.Upstreams["stub-impatient"] = Upstream(stub.BaseAddress.ToString(), activityTimeout: "00:00:01");
        config.Models["gpt-test"] = ChatModel("stub", "stub-chat", input: 1m, output: 2m, window: 128_000);
        config.Models["gpt-premium"] = ChatModel("stub", "stub-premium", input: 10m, output: 30m, window: 1_000_000);
        config.Models["embed-test"] = new JsonObject { ["Upstream"] = "stub", ["UpstreamModel"] = "stub-embed", ["Kind"] = "Embeddings" };
        config.Models["limited"] = ChatModel("stub", "rate-limited", input: 1m, output: 2m, window: 128_000);
        config.Models["hanging"] = ChatModel("stub-impatient", "hang", input: 1m, output: 2m, window: 128_000);
        config.Tenants["acme"] = Tenant(AcmeKey, "*");
        config.Tenants["globex"] = Tenant(GlobexKey, "gpt-test");
        return config;
    }

    public static JsonObject Upstream(string address, string? apiKey = null, string activityTimeout = "00:00:30") => new()
    {
        ["Destinations"] = new JsonObject { ["main"] = new JsonObject { ["Address"] = address } },
        ["ApiKey"] = apiKey,
        ["ActivityTimeout"] = activityTimeout,
        ["ConnectTimeout"] = "00:00:05",
    };

    /// <summary>A chat model with the routing profile every chat model needs: window, o200k tokenizer, prices per 1M tokens, the test curve.</summary>
    public static JsonObject ChatModel(string upstream, string upstreamModel, decimal input, decimal output, long window, decimal? cachedInput = null) => new()
    {
        ["Upstream"] = upstream,
        ["UpstreamModel"] = upstreamModel,
        [nameof(Routing)] = new JsonObject
        {
            ["ContextWindow"] = window,
            ["Tokenizer"] = "o200k_base",
            ["ContextRot"] = TestCurve,
            ["Prices"] = new JsonObject { ["InputPerMillion"] = input, ["CachedInputPerMillion"] = cachedInput, ["OutputPerMillion"] = output },
        },
    };

    public static JsonObject Tenant(string key, params string[] models) => new()
    {
        ["ApiKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(key)),
        ["AllowedModels"] = new JsonArray([.. models.Select(m => JsonValue.Create(m))]),
    };

    public string WriteTo(string directory)
    {
        Directory.CreateDirectory(Path.Combine(directory, "config"));
        File.WriteAllText(Path.Combine(directory, "config", "upstreams.json"), new JsonObject { [nameof(Upstreams)] = Upstreams.DeepClone() }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "config", "models.json"), new JsonObject { [nameof(Models)] = Models.DeepClone() }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "config", "tenants.json"), new JsonObject { [nameof(Tenants)] = Tenants.DeepClone() }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "config", "routing.json"), Routing.ToJsonString());
        // The shipped prompt templates (config/prompts), as the built gateway carries them.
        var prompts = Path.Combine(AppContext.BaseDirectory, "config", "prompts");
        Directory.CreateDirectory(Path.Combine(directory, "config", "prompts"));
        foreach (var file in Directory.GetFiles(prompts))
        {
            File.Copy(file, Path.Combine(directory, "config", "prompts", Path.GetFileName(file)));
        }

        Directory.CreateDirectory(Path.Combine(directory, "config", "context-rot"));
        foreach (var (name, curve) in Curves)
        {
            File.WriteAllText(Path.Combine(directory, "config", "context-rot", name + ".json"), curve.ToJsonString());
        }

        var settingsPath = Path.Combine(directory, "appsettings.json");
        File.WriteAllText(settingsPath, Settings.ToJsonString());
        return settingsPath;
    }
}

/// <summary>One stub upstream and one gateway in front of it, shared by the tests of a collection.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    internal StubUpstream Stub { get; private set; } = null!;

    internal GatewayInstance Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stub = await StubUpstream.StartAsync();
        Gateway = await GatewayInstance.StartAsync(GatewayConfig.Standard(Stub));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Stub.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollectionDefinition : ICollectionFixture<GatewayFixture>
{
    public const string Name = "gateway";
}
