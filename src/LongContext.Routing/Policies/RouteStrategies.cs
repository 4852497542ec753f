using LongContext.Routing.Candidates;

namespace LongContext.Routing.Policies;

/// <summary>The objectives a tenant policy can name.</summary>
public static class RouteStrategies
{
    /// <summary>The cheapest candidate whose expected recall meets the floor.</summary>
    public const string MinCostAtRecall = nameof(MinCostAtRecall);

    /// <summary>The best expected recall among candidates under the cost cap.</summary>
    public const string MaxRecallUnderCap = nameof(MaxRecallUnderCap);

    public static IReadOnlyList<string> Names { get; } = [MinCostAtRecall, MaxRecallUnderCap];

    internal static IRouteStrategy Get(string name) => name switch
    {
        MinCostAtRecall => new MinCostAtRecallStrategy(),
        MaxRecallUnderCap => new MaxRecallUnderCapStrategy(),
        _ => throw new ArgumentException($"Unknown routing objective '{name}'; known: {string.Join(", ", Names)}.", nameof(name)),
    };
}

/// <summary>Picks one of the feasible candidates (never an empty list) and says why.</summary>
internal interface IRouteStrategy
{
    string Name { get; }

    (RouteCandidate Pick, string Why) Pick(IReadOnlyList<RouteCandidate> feasible, TenantPolicy policy);
}

internal sealed class MinCostAtRecallStrategy : IRouteStrategy
{
    public string Name => RouteStrategies.MinCostAtRecall;

    public (RouteCandidate Pick, string Why) Pick(IReadOnlyList<RouteCandidate> feasible, TenantPolicy policy)
    {
        var meeting = feasible.Where(c => c.ExpectedRecall >= policy.RecallFloor).ToList();
        if (meeting.Count > 0)
        {
            var pick = meeting.OrderBy(c => c.ExpectedCostUsd).ThenByDescending(c => c.ExpectedRecall).ThenBy(c => c.ExpectedLatencySeconds).ThenBy(c => c.Id, StringComparer.Ordinal).First();
            return (pick, $"cheapest of {meeting.Count} feasible candidate(s) meeting the {policy.RecallFloor:P0} recall floor");
        }

        var best = CandidateOrder.ByRecall(feasible).First();
        return (best, $"no feasible candidate meets the {policy.RecallFloor:P0} recall floor; highest expected recall chosen");
    }
}

internal sealed class MaxRecallUnderCapStrategy : IRouteStrategy
{
    public string Name => RouteStrategies.MaxRecallUnderCap;

    public (RouteCandidate Pick, string Why) Pick(IReadOnlyList<RouteCandidate> feasible, TenantPolicy policy)
    {
        var pick = CandidateOrder.ByRecall(feasible).First();
        var cap = policy.MaxCostPerRequestUsd is { } c ? $"the ${c:0.######} cap" : "no cost cap";
        return (pick, $"highest expected recall of {feasible.Count} feasible candidate(s) under {cap}");
    }
}

internal static class CandidateOrder
{
    /// <summary>
    /// Recall first, compared to the percentage point: the curves are not more precise than that,
    /// so finer differences must not outweigh speed. Equal recall goes to the faster, then the
    /// cheaper, then the id: always one answer.
    /// </summary>
    public static IEnumerable<RouteCandidate> ByRecall(IEnumerable<RouteCandidate> candidates) =>
        candidates.OrderByDescending(c => Math.Round(c.ExpectedRecall, 2)).ThenBy(c => c.ExpectedLatencySeconds).ThenBy(c => c.ExpectedCostUsd).ThenBy(c => c.Id, StringComparer.Ordinal);
}
