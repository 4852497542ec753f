using LongContext.Routing.Decision;
using LongContext.Routing.Policies;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

/// <summary>Routing settings, the routing profile of every chat model, and every tenant's policy.</summary>
internal sealed class RoutingValidator : IValidateOptions<GatewaySettings>
{
    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var failures = new List<string>();
        ValidateRouting(options, failures);
        foreach (var (alias, model) in options.Models)
        {
            ValidateModel(alias, model, options, failures);
        }

        foreach (var (tenantId, tenant) in options.Tenants)
        {
            ValidatePolicy(tenantId, tenant.Policy, failures);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateRouting(GatewaySettings options, List<string> failures)
    {
        var routing = options.Routing;
        if (string.IsNullOrWhiteSpace(routing.AutoModel))
        {
            failures.Add("Routing:AutoModel must not be blank.");
        }
        else if (options.Models.ContainsKey(routing.AutoModel))
        {
            failures.Add($"Routing:AutoModel '{routing.AutoModel}' is also a model alias under Models; pick another name.");
        }

        if (string.IsNullOrWhiteSpace(routing.ContextRotDirectory))
        {
            failures.Add("Routing:ContextRotDirectory must name the folder of context-rot curve files.");
        }

        if (routing.DefaultMaxOutputTokens < 1)
        {
            failures.Add("Routing:DefaultMaxOutputTokens must be at least 1.");
        }

        if (routing.ReservationTimeToLive <= TimeSpan.Zero)
        {
            failures.Add("Routing:ReservationTimeToLive must be positive.");
        }

        var hybrid = routing.Hybrid;
        Require(!string.IsNullOrWhiteSpace(hybrid.PromptTemplate), "Routing:Hybrid:PromptTemplate must name the self-route prompt template file.", failures);
        Require(!string.IsNullOrWhiteSpace(hybrid.Marker) && hybrid.Marker.Trim() == hybrid.Marker, "Routing:Hybrid:Marker must be non-blank text without leading or trailing spaces.", failures);
        Require(hybrid.PriorWeight >= 0 && double.IsFinite(hybrid.PriorWeight), "Routing:Hybrid:PriorWeight must not be negative.", failures);
        Require(hybrid.ObservationWindow > TimeSpan.Zero, "Routing:Hybrid:ObservationWindow must be positive.", failures);

        var rag = routing.Rag;
        Require(rag.TopK >= 1, "Routing:Rag:TopK must be at least 1.", failures);
        Require(rag.ChunkTokens >= 1, "Routing:Rag:ChunkTokens must be at least 1.", failures);
        Require(rag.PromptOverheadTokens >= 0, "Routing:Rag:PromptOverheadTokens must not be negative.", failures);
        Require(rag.RetrievalRecall is > 0 and <= 1, "Routing:Rag:RetrievalRecall must be in (0, 1].", failures);
        Require(rag.EscalationProbability is >= 0 and <= 1, "Routing:Rag:EscalationProbability must be in [0, 1].", failures);
        Require(rag.EmbeddingPerMillion >= 0, "Routing:Rag:EmbeddingPerMillion must not be negative.", failures);
        Require(rag.RetrievalLatencySeconds >= 0, "Routing:Rag:RetrievalLatencySeconds must not be negative.", failures);
        Require(rag.IndexingTokensPerSecond > 0, "Routing:Rag:IndexingTokensPerSecond must be positive.", failures);
    }

    private static void ValidateModel(string alias, ModelConfig model, GatewaySettings options, List<string> failures)
    {
        string Key(params object[] parts) => ConfigKeys.Of(["Models", alias, .. parts]);
        if (model.MaxTokensField is not ("max_tokens" or "max_completion_tokens"))
        {
            failures.Add($"{Key("MaxTokensField")} must be max_tokens or max_completion_tokens, not '{model.MaxTokensField}'.");
        }

        if (model.Kind != ModelKind.Chat)
        {
            // An embeddings model is priced when it costs money; a local one needs no Routing section.
            if (model.Routing is { } embedding)
            {
                if (embedding.Prices is { } embeddingPrices)
                {
                    ValidatePrices(embeddingPrices, Key("Routing", "Prices"), failures);
                }
                else
                {
                    failures.Add($"{Key("Routing", "Prices")} is required when an embeddings model has a Routing section (InputPerMillion is what its input costs).");
                }
            }

            return;
        }

        if (model.Routing is not { } routing)
        {
            failures.Add($"{Key("Routing")} is required for chat models: the gateway must know the model's window and prices to route and account for it.");
            return;
        }

        Require(routing.ContextWindow >= 1, $"{Key("Routing", "ContextWindow")} must be a positive number of tokens.", failures);
        Require(!string.IsNullOrWhiteSpace(routing.ContextRot), $"{Key("Routing", "ContextRot")} must name a context-rot curve file under {options.Routing.ContextRotDirectory}.", failures);
        Require(routing.PrefillTokensPerSecond > 0, $"{Key("Routing", "PrefillTokensPerSecond")} must be positive.", failures);
        Require(routing.DecodeTokensPerSecond > 0, $"{Key("Routing", "DecodeTokensPerSecond")} must be positive.", failures);
        Require(routing.ServesRag || routing.ServesLongContext, $"{Key("Routing")} must serve RAG, long context or both (ServesRag / ServesLongContext).", failures);

        switch (routing.Prices, routing.SelfHosted)
        {
            case (null, null):
                failures.Add($"{Key("Routing", "Prices")} or {Key("Routing", "SelfHosted")} is required: a model the gateway cannot price cannot be budgeted.");
                break;
            case ({ }, { }):
                failures.Add($"{Key("Routing")} gives both Prices and SelfHosted; a self-hosted model is priced from its GPU-hours, so give one.");
                break;
            case ({ } prices, null):
                ValidatePrices(prices, Key("Routing", "Prices"), failures);
                break;
            case (null, { } selfHosted):
                ValidateSelfHosted(selfHosted, Key("Routing", "SelfHosted"), failures);
                break;
        }
    }

    private static void ValidatePrices(PricesConfig prices, string key, List<string> failures)
    {
        Require(prices.InputPerMillion >= 0, $"{key}:InputPerMillion must not be negative.", failures);
        Require(prices.OutputPerMillion >= 0, $"{key}:OutputPerMillion must not be negative.", failures);
        Require(prices.CachedInputPerMillion is null or >= 0, $"{key}:CachedInputPerMillion must not be negative.", failures);
        if (prices.LongPrompt is { } tier)
        {
            Require(tier.AbovePromptTokens >= 1, $"{key}:LongPrompt:AbovePromptTokens must be positive.", failures);
            Require(tier.InputPerMillion >= 0 && tier.OutputPerMillion >= 0 && tier.CachedInputPerMillion is null or >= 0, $"{key}:LongPrompt prices must not be negative.", failures);
        }
    }

    private static void ValidateSelfHosted(SelfHostedConfig selfHosted, string key, List<string> failures)
    {
        Require(selfHosted.GpuHourUsd >= 0, $"{key}:GpuHourUsd must not be negative.", failures);
        Require(selfHosted.Gpus >= 1, $"{key}:Gpus must be at least 1.", failures);
        Require(selfHosted.GpuMemoryGb > 0, $"{key}:GpuMemoryGb must be positive.", failures);
        Require(selfHosted.ReservedGbPerGpu >= 0 && selfHosted.ReservedGbPerGpu < selfHosted.GpuMemoryGb, $"{key}:ReservedGbPerGpu must be at least 0 and below GpuMemoryGb.", failures);
        var kv = selfHosted.Kv;
        Require(kv.Layers >= 1 && kv.KvHeads >= 1 && kv.HeadDim >= 1, $"{key}:Kv needs positive Layers, KvHeads and HeadDim.", failures);
        Require(kv.BytesPerValue is 1 or 2 or 4, $"{key}:Kv:BytesPerValue must be 1, 2 or 4.", failures);
        Require(selfHosted.Attention.Count > 0, $"{key}:Attention must list at least one attention method (e.g. full).", failures);
        foreach (var (method, attention) in selfHosted.Attention)
        {
            Require(attention.RecallFactor is > 0 and <= 1, $"{key}:Attention:{method}:RecallFactor must be in (0, 1].", failures);
            Require(attention.ThroughputFactor > 0, $"{key}:Attention:{method}:ThroughputFactor must be positive.", failures);
            Require(attention.KvTokenLimit is null or >= 1, $"{key}:Attention:{method}:KvTokenLimit must be positive when set.", failures);
        }
    }

    private static void ValidatePolicy(string tenantId, PolicyConfig policy, List<string> failures)
    {
        string Key(params object[] parts) => ConfigKeys.Of(["Tenants", tenantId, "Policy", .. parts]);
        Require(policy.MonthlyBudgetUsd is null or >= 0, $"{Key("MonthlyBudgetUsd")} must not be negative.", failures);
        Require(policy.DailyBudgetUsd is null or >= 0, $"{Key("DailyBudgetUsd")} must not be negative.", failures);
        Require(policy.MaxCostPerRequestUsd is null or > 0, $"{Key("MaxCostPerRequestUsd")} must be positive when set.", failures);
        Require(policy.RecallFloor is >= 0 and <= 1, $"{Key("RecallFloor")} must be in [0, 1].", failures);
        if (!RouteStrategies.Names.Contains(policy.Objective, StringComparer.Ordinal))
        {
            failures.Add($"{Key("Objective")} '{policy.Objective}' is not an objective; known: {string.Join(", ", RouteStrategies.Names)}.");
        }

        for (var i = 0; i < policy.AllowedRoutes.Count; i++)
        {
            if (!RouteNames.TryParse(policy.AllowedRoutes[i], out _))
            {
                failures.Add($"{Key("AllowedRoutes", i)} '{policy.AllowedRoutes[i]}' is not a route; use {RouteNames.Rag}, {RouteNames.LongContext} or {RouteNames.Hybrid}.");
            }
        }
    }

    private static void Require(bool condition, string failure, List<string> failures)
    {
        if (!condition)
        {
            failures.Add(failure);
        }
    }
}
