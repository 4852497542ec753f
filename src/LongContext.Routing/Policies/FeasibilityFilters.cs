using LongContext.Routing.Candidates;
using LongContext.Routing.Decision;

namespace LongContext.Routing.Policies;

/// <summary>What a filter may look at besides the candidate.</summary>
internal sealed record FilterContext(RoutingRequest Request, TenantPolicy Policy, BudgetState Budget, IReadOnlyDictionary<string, string> UnavailableModels);

/// <summary>Rules a candidate out before any objective is consulted; returns the reason, or null to keep it.</summary>
internal interface IFeasibilityFilter
{
    string Name { get; }

    string? Reject(RouteCandidate candidate, FilterContext context);
}

internal static class FeasibilityFilters
{
    public const string Budget = nameof(BudgetFilter);

    /// <summary>Run in this order; every filter runs on every candidate so the explanation lists all reasons.</summary>
    public static IReadOnlyList<IFeasibilityFilter> All { get; } =
    [
        new ForcedRouteFilter(),
        new ModelAvailabilityFilter(),
        new UpstreamRefusalFilter(),
        new RetrievalFilter(),
        new ExecutableRouteFilter(),
        new AllowedRouteFilter(),
        new AllowedModelFilter(),
        new ContextWindowFilter(),
        new KvMemoryFilter(),
        new CostCapFilter(),
        new BudgetFilter(),
    ];
}

internal sealed class ForcedRouteFilter : IFeasibilityFilter
{
    public string Name => nameof(ForcedRouteFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Request.ForcedRoute is { } forced && context.Policy.AllowForcedRoute && candidate.Route != forced
            ? $"the client forced route {RouteNames.Of(forced)}"
            : null;
}

internal sealed class ModelAvailabilityFilter : IFeasibilityFilter
{
    public string Name => nameof(ModelAvailabilityFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.UnavailableModels.TryGetValue(candidate.Model, out var why)
            ? $"model {candidate.Model} is unavailable: {why}"
            : candidate.EscalationModel is { } escalation && context.UnavailableModels.TryGetValue(escalation, out why)
                ? $"model {escalation} is unavailable: {why}"
                : null;
}

internal sealed class UpstreamRefusalFilter : IFeasibilityFilter
{
    public string Name => nameof(UpstreamRefusalFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Request.RefusedCandidates is { } refused && refused.TryGetValue(candidate.Id, out var why)
            ? $"its upstream refused this request: {why}"
            : null;
}

internal sealed class RetrievalFilter : IFeasibilityFilter
{
    public string Name => nameof(RetrievalFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        candidate.Route != RouteKind.LongContext && !context.Request.RetrievalAvailable
            ? "the context is not an indexed corpus, so nothing can be retrieved from it"
            : null;
}

internal sealed class ExecutableRouteFilter : IFeasibilityFilter
{
    public string Name => nameof(ExecutableRouteFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Request.ExecutableRoutes is { } routes && !routes.Contains(candidate.Route)
            ? $"the {RouteNames.Of(candidate.Route)} route cannot be carried out for this request"
            : null;
}

internal sealed class AllowedRouteFilter : IFeasibilityFilter
{
    public string Name => nameof(AllowedRouteFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Policy.AllowsRoute(candidate.Route) ? null : $"route {RouteNames.Of(candidate.Route)} is not allowed by the tenant's policy";
}

internal sealed class AllowedModelFilter : IFeasibilityFilter
{
    public string Name => nameof(AllowedModelFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context)
    {
        var policy = context.Policy;
        if (!policy.AllowsModel(candidate.Model))
        {
            return $"model {candidate.Model} is not allowed by the tenant's policy";
        }

        return candidate.EscalationModel is { } escalation && !policy.AllowsModel(escalation)
            ? $"model {escalation} is not allowed by the tenant's policy"
            : null;
    }
}

internal sealed class ContextWindowFilter : IFeasibilityFilter
{
    public string Name => nameof(ContextWindowFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context)
    {
        var needed = candidate.PromptTokens + candidate.OutputTokens;
        return needed > candidate.ContextWindow
            ? $"needs {needed:N0} tokens, over the {candidate.ContextWindow:N0}-token window of {candidate.EscalationModel ?? candidate.Model}"
            : null;
    }
}

internal sealed class KvMemoryFilter : IFeasibilityFilter
{
    public string Name => nameof(KvMemoryFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        candidate is { KvBytesPerGpu: { } needed, KvFreeBytesPerGpu: { } free } && needed > free
            ? $"KV cache needs {needed / 1e9:0.##} GB per GPU, {free / 1e9:0.##} GB free ({candidate.Attention})"
            : null;
}

internal sealed class CostCapFilter : IFeasibilityFilter
{
    public string Name => nameof(CostCapFilter);

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Policy.MaxCostPerRequestUsd is { } cap && candidate.WorstCaseCostUsd > cap
            ? $"may cost ${candidate.WorstCaseCostUsd:0.######}, over the ${cap:0.######} per-request cap"
            : null;
}

internal sealed class BudgetFilter : IFeasibilityFilter
{
    public string Name => FeasibilityFilters.Budget;

    public string? Reject(RouteCandidate candidate, FilterContext context) =>
        context.Budget.Remaining is { } remaining && candidate.WorstCaseCostUsd > remaining
            ? $"may cost ${candidate.WorstCaseCostUsd:0.######}, more than the ${Math.Max(remaining, 0):0.######} left in the budget"
            : null;
}
