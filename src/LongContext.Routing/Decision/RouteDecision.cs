using LongContext.Routing.Candidates;

namespace LongContext.Routing.Decision;

public enum DecisionOutcome
{
    Routed,

    /// <summary>Some candidate would serve the request, but none fits what is left of the budget.</summary>
    OverBudget,

    /// <summary>No candidate can serve the request at all (windows, memory, policy).</summary>
    NoFeasibleRoute,
}

/// <summary>A candidate and what routing made of it.</summary>
public sealed record CandidateVerdict(RouteCandidate Candidate, IReadOnlyList<string> RejectedBecause, bool Chosen)
{
    public bool Feasible => RejectedBecause.Count == 0;
}

/// <summary>The routing decision with its whole explanation.</summary>
public sealed record RouteDecision
{
    public required DecisionOutcome Outcome { get; init; }

    public RouteCandidate? Chosen { get; init; }

    public required string Strategy { get; init; }

    /// <summary>One paragraph a person can read: what was chosen and why.</summary>
    public required string Explanation { get; init; }

    public required IReadOnlyList<CandidateVerdict> Candidates { get; init; }

    /// <summary>Caveats on the numbers, e.g. counts from the approximate tokenizer.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public decimal? BudgetRemainingUsd { get; init; }

    public bool ForcedRouteHonoured { get; init; }

    /// <summary>What each other candidate was expected to cost: the dashboard's counterfactuals.</summary>
    public IReadOnlyDictionary<string, decimal> CounterfactualCostsUsd =>
        Candidates.Where(v => !v.Chosen).ToDictionary(v => v.Candidate.Id, v => v.Candidate.ExpectedCostUsd, StringComparer.Ordinal);
}
