using LongContext.Routing.Candidates;
using LongContext.Routing.Catalog;
using LongContext.Routing.Policies;

namespace LongContext.Routing.Decision;

/// <summary>
/// The pure routing core: the same request, catalog, policy and budget always give the same
/// decision. List candidates, filter the infeasible ones, let the tenant's objective pick.
/// </summary>
public sealed class RouteDecider(IReadOnlyList<ModelProfile> models, RagSettings rag)
{
    public RouteDecision Decide(RoutingRequest request, TenantPolicy policy, BudgetState budget)
    {
        var strategy = RouteStrategies.Get(policy.Objective);
        var candidates = CandidateBuilder.Build(request, models, rag);
        var unavailable = models.Where(m => m.UnavailableBecause is not null).ToDictionary(m => m.Id, m => m.UnavailableBecause!, StringComparer.Ordinal);
        var context = new FilterContext(request, policy, budget, unavailable);
        var rejections = candidates.Select(c => FeasibilityFilters.All.Select(f => (f.Name, Reason: f.Reject(c, context))).Where(r => r.Reason is not null).ToList()).ToList();

        var notes = new List<string>();
        if (request.CountsApproximate)
        {
            notes.Add("token counts are approximate (about 4 characters per token): the model's tokenizer is not known to the gateway");
        }

        var forcedHonoured = request.ForcedRoute is not null && policy.AllowForcedRoute;
        if (request.ForcedRoute is { } forced && !policy.AllowForcedRoute)
        {
            notes.Add($"the client asked for route {RouteNames.Of(forced)}, but the tenant's policy does not let clients force a route");
        }

        var feasible = candidates.Where((_, i) => rejections[i].Count == 0).ToList();
        RouteCandidate? chosen = null;
        string explanation;
        DecisionOutcome outcome;
        if (feasible.Count > 0)
        {
            var (pick, why) = strategy.Pick(feasible, policy);
            chosen = pick;
            outcome = DecisionOutcome.Routed;
            explanation = $"{RouteNames.Of(pick.Route)} via {pick.Id}: {why}; expected ${pick.ExpectedCostUsd:0.######}, recall {pick.ExpectedRecall:P1}, {pick.ExpectedLatencySeconds:0.##} s.";
        }
        else if (candidates.Count == 0)
        {
            outcome = DecisionOutcome.NoFeasibleRoute;
            explanation = "no model in the catalog can serve this request.";
        }
        else if (rejections.Any(r => r.Count > 0 && r.All(x => x.Name == FeasibilityFilters.Budget)))
        {
            outcome = DecisionOutcome.OverBudget;
            explanation = $"every candidate that could serve the request costs more than the ${Math.Max(budget.Remaining ?? 0, 0):0.######} left in the budget.";
        }
        else
        {
            outcome = DecisionOutcome.NoFeasibleRoute;
            explanation = "no candidate is feasible: " + string.Join("; ", candidates.Select((c, i) => $"{c.Id}: {rejections[i][0].Reason}")) + ".";
        }

        return new RouteDecision
        {
            Outcome = outcome,
            Chosen = chosen,
            Strategy = strategy.Name,
            Explanation = explanation,
            Candidates = [.. candidates.Select((c, i) => new CandidateVerdict(c, [.. rejections[i].Select(r => r.Reason!)], ReferenceEquals(c, chosen)))],
            Notes = notes,
            BudgetRemainingUsd = budget.Remaining,
            ForcedRouteHonoured = forcedHonoured,
        };
    }
}
