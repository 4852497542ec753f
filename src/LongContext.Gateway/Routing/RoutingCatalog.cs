using LongContext.Gateway.Configuration;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Tenancy;
using LongContext.Ledger.Spend;
using LongContext.Routing.Catalog;
using LongContext.Routing.ContextRot;
using LongContext.Routing.Decision;
using LongContext.Routing.Memory;
using LongContext.Routing.Policies;
using LongContext.Routing.Pricing;
using LongContext.Routing.Tokens;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Routing;

/// <summary>
/// What routing knows, built once from config: a profile per chat model (window, prices,
/// tokenizer, context-rot curve, availability), the curves, the RAG assumptions and each tenant's policy.
/// </summary>
internal sealed class RoutingCatalog
{
    private readonly Dictionary<string, ModelProfile> _profiles;
    private readonly Dictionary<string, (TenantPolicy Policy, BudgetLimits Limits)> _policies;
    private readonly Dictionary<string, (ModelPrices Prices, ITokenCounter Counter)> _embeddingPrices;

    public RoutingCatalog(IOptions<GatewaySettings> options, UpstreamClusters clusters, IHostEnvironment environment)
    {
        var settings = options.Value;
        Settings = settings.Routing;
        var directory = Path.GetFullPath(settings.Routing.ContextRotDirectory, environment.ContentRootPath);
        Curves = ContextRotFiles.LoadDirectory(directory);
        _profiles = new Dictionary<string, ModelProfile>(StringComparer.Ordinal);
        foreach (var (alias, model) in settings.Models.Where(m => m.Value is { Kind: ModelKind.Chat, Routing: not null }))
        {
            var routing = model.Routing!;
            if (!Curves.TryGetValue(routing.ContextRot, out var curve))
            {
                throw new GatewayStartupException($"Models:{alias}:Routing:ContextRot names '{routing.ContextRot}', which is not a curve file in {directory} (found: {string.Join(", ", Curves.Keys)}).");
            }

            _profiles[alias] = Profile(alias, routing, curve, clusters.Get(model.Upstream).UnavailableBecause);
        }

        _embeddingPrices = settings.Models
            .Where(m => m.Value is { Kind: ModelKind.Embeddings, Routing.Prices: not null })
            .ToDictionary(m => m.Key, m => (ToPrices(m.Value.Routing!.Prices!), TokenCounters.Shared.Get(m.Value.Routing!.Tokenizer)), StringComparer.Ordinal);
        _policies = settings.Tenants.ToDictionary(t => t.Key, t => Policy(t.Value), StringComparer.Ordinal);
        Rag = settings.Routing.Rag.ToSettings();
    }

    public RoutingConfig Settings { get; }

    public IReadOnlyDictionary<string, ContextRotCurve> Curves { get; }

    public RagSettings Rag { get; }

    public IReadOnlyDictionary<string, ModelProfile> Profiles => _profiles;

    /// <summary>Prices and tokenizer of a priced embeddings model; null for a free (local) one.</summary>
    public (ModelPrices Prices, ITokenCounter Counter)? EmbeddingPricing(string alias) =>
        _embeddingPrices.TryGetValue(alias, out var pricing) ? pricing : null;

    public bool IsAuto(string model) => string.Equals(model, Settings.AutoModel, StringComparison.Ordinal);

    public TenantPolicy PolicyOf(Tenant tenant) => _policies[tenant.Id].Policy;

    public BudgetLimits LimitsOf(Tenant tenant) => LimitsOf(tenant.Id);

    public BudgetLimits LimitsOf(string tenantId) => _policies[tenantId].Limits;

    /// <summary>The tokenizer that measures a request for this model; the reference tokenizer when routing picks the model.</summary>
    public ITokenCounter CounterFor(string? alias) =>
        TokenCounters.Shared.Get(alias is not null && _profiles.TryGetValue(alias, out var profile) ? profile.Tokenizer : Settings.ReferenceTokenizer);

    private static ModelProfile Profile(string alias, ModelRoutingConfig routing, ContextRotCurve curve, string? unavailable)
    {
        SelfHostedProfile? selfHosted = null;
        ModelPrices prices;
        if (routing.SelfHosted is { } hosted)
        {
            prices = new SelfHostedCost
            {
                GpuHourUsd = hosted.GpuHourUsd,
                Gpus = hosted.Gpus,
                PrefillTokensPerSecond = routing.PrefillTokensPerSecond,
                DecodeTokensPerSecond = routing.DecodeTokensPerSecond,
            }.ToPrices();
            selfHosted = new SelfHostedProfile
            {
                Kv = new KvCacheShape { Layers = hosted.Kv.Layers, KvHeads = hosted.Kv.KvHeads, HeadDim = hosted.Kv.HeadDim, BytesPerValue = hosted.Kv.BytesPerValue },
                Gpus = hosted.Gpus,
                GpuMemoryBytes = (long)(hosted.GpuMemoryGb * 1e9),
                ReservedBytesPerGpu = (long)(hosted.ReservedGbPerGpu * 1e9),
                Attention = [.. hosted.Attention.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => new AttentionProfile
                {
                    Method = a.Key,
                    RecallFactor = a.Value.RecallFactor,
                    ShardsKvOverGpus = a.Value.ShardsKvOverGpus,
                    KvTokenLimit = a.Value.KvTokenLimit,
                    ThroughputFactor = a.Value.ThroughputFactor,
                    Source = a.Value.Source ?? "",
                })],
            };
        }
        else
        {
            prices = ToPrices(routing.Prices!);
        }

        return new ModelProfile
        {
            Id = alias,
            ContextWindow = routing.ContextWindow,
            Prices = prices,
            Tokenizer = routing.Tokenizer ?? "",
            ContextRot = curve,
            ServesRag = routing.ServesRag,
            ServesLongContext = routing.ServesLongContext,
            PrefillTokensPerSecond = routing.PrefillTokensPerSecond,
            DecodeTokensPerSecond = routing.DecodeTokensPerSecond,
            SelfHosted = selfHosted,
            UnavailableBecause = unavailable,
        };
    }

    private static ModelPrices ToPrices(PricesConfig p) => new()
    {
        InputPerMillion = p.InputPerMillion,
        CachedInputPerMillion = p.CachedInputPerMillion,
        OutputPerMillion = p.OutputPerMillion,
        LongPrompt = p.LongPrompt is { } tier
            ? new LongPromptPrices { AbovePromptTokens = tier.AbovePromptTokens, InputPerMillion = tier.InputPerMillion, CachedInputPerMillion = tier.CachedInputPerMillion, OutputPerMillion = tier.OutputPerMillion }
            : null,
    };

    private static (TenantPolicy, BudgetLimits) Policy(TenantConfig tenant)
    {
        var p = tenant.Policy;
        var policy = new TenantPolicy
        {
            MonthlyBudgetUsd = p.MonthlyBudgetUsd,
            DailyBudgetUsd = p.DailyBudgetUsd,
            MaxCostPerRequestUsd = p.MaxCostPerRequestUsd,
            RecallFloor = p.RecallFloor,
            Objective = p.Objective,
            AllowedRoutes = [.. p.AllowedRoutes.Select(r => RouteNames.TryParse(r, out var route) ? route : throw new GatewayStartupException($"unknown route '{r}'"))],
            AllowedModels = tenant.AllowedModels.Contains(Tenant.AnyModel) ? [] : tenant.AllowedModels,
            AllowForcedRoute = p.AllowForcedRoute,
        };
        return (policy, new BudgetLimits(p.MonthlyBudgetUsd, p.DailyBudgetUsd));
    }
}
