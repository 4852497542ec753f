using CsCheck;
using LongContext.Routing.Decision;
using LongContext.Routing.Policies;

namespace LongContext.Routing.Tests;

public sealed class RouteDeciderPropertyTests
{
    private static readonly RouteDecider Decider = new(TestCatalog.All, new RagSettings());

    private static readonly Gen<(RoutingRequest Request, TenantPolicy Policy, BudgetState Budget)> Inputs =
        from context in Gen.Long[0, 20_000_000]
        from question in Gen.Long[1, 20_000]
        from output in Gen.Long[1, 16_000]
        from forced in Gen.OneOf<RouteKind?>(null, RouteKind.Rag, RouteKind.LongContext, RouteKind.Hybrid)
        from floor in Gen.Double[0, 1]
        from objective in Gen.OneOf(RouteStrategies.MinCostAtRecall, RouteStrategies.MaxRecallUnderCap)
        from cap in Gen.OneOf<decimal?>(null, 0.001m, 0.05m, 1m, 10m)
        from remaining in Gen.OneOf<decimal?>(null, 0m, 0.0001m, 0.01m, 0.5m, 5m, 500m)
        from allowForced in Gen.Bool
        from onlyRag in Gen.Bool
        select (
            new RoutingRequest { ContextTokens = context, QuestionTokens = question, ExpectedOutputTokens = output, ForcedRoute = forced },
            new TenantPolicy { RecallFloor = floor, Objective = objective, MaxCostPerRequestUsd = cap, AllowForcedRoute = allowForced, AllowedRoutes = onlyRag ? [RouteKind.Rag] : [] },
            new BudgetState(remaining, null));

    [Fact]
    public void Decide_IsDeterministic()
    {
        Inputs.Sample(input =>
        {
            var a = Decider.Decide(input.Request, input.Policy, input.Budget);
            var b = Decider.Decide(input.Request, input.Policy, input.Budget);
            return a.Outcome == b.Outcome
                && a.Chosen?.Id == b.Chosen?.Id
                && a.Chosen?.ExpectedCostUsd == b.Chosen?.ExpectedCostUsd
                && a.Chosen?.ExpectedRecall == b.Chosen?.ExpectedRecall
                && a.Explanation == b.Explanation
                && a.Candidates.Select(v => v.Candidate.Id).SequenceEqual(b.Candidates.Select(v => v.Candidate.Id));
        }, iter: 500);
    }

    [Fact]
    public void Decide_NeverPicksAnInfeasibleCandidate()
    {
        Inputs.Sample(input =>
        {
            var (request, policy, budget) = input;
            var decision = Decider.Decide(request, policy, budget);
            if (decision.Chosen is not { } chosen)
            {
                return decision.Outcome != DecisionOutcome.Routed && decision.Candidates.All(v => !v.Feasible);
            }

            var verdict = decision.Candidates.Single(v => v.Chosen);
            return verdict.Feasible
                && chosen.PromptTokens + chosen.OutputTokens <= chosen.ContextWindow
                && (chosen.KvBytesPerGpu is null || chosen.KvBytesPerGpu <= chosen.KvFreeBytesPerGpu)
                && (budget.Remaining is null || chosen.WorstCaseCostUsd <= budget.Remaining)
                && (policy.MaxCostPerRequestUsd is null || chosen.WorstCaseCostUsd <= policy.MaxCostPerRequestUsd)
                && policy.AllowsRoute(chosen.Route)
                && (request.ForcedRoute is null || !policy.AllowForcedRoute || chosen.Route == request.ForcedRoute);
        }, iter: 500);
    }

    [Fact]
    public void MinCostAtRecall_NoFeasibleCandidateMeetsFloorMoreCheaply()
    {
        Inputs.Sample(input =>
        {
            var policy = input.Policy with { Objective = RouteStrategies.MinCostAtRecall };
            var decision = Decider.Decide(input.Request, policy, input.Budget);
            if (decision.Chosen is not { } chosen || chosen.ExpectedRecall < policy.RecallFloor)
            {
                return true;
            }

            return decision.Candidates.Where(v => v.Feasible && v.Candidate.ExpectedRecall >= policy.RecallFloor)
                .All(v => v.Candidate.ExpectedCostUsd >= chosen.ExpectedCostUsd);
        }, iter: 300);
    }
}
