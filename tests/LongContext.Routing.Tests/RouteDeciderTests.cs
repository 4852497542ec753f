using LongContext.Routing.Decision;
using LongContext.Routing.Policies;

namespace LongContext.Routing.Tests;

public sealed class RouteDeciderTests
{
    private static readonly RagSettings Rag = new();
    private static readonly RouteDecider Decider = new(TestCatalog.All, Rag);

    private static RoutingRequest Request(long contextTokens, RouteKind? forced = null) => new()
    {
        QuestionTokens = 300,
        ContextTokens = contextTokens,
        ExpectedOutputTokens = 500,
        ForcedRoute = forced,
    };

    [Fact]
    public void InlineContextToIndex_AddsEmbeddingTimeAndCostToRag_AndNothingToLongContext()
    {
        var rag = new RagSettings { EmbeddingPerMillion = 0.02m, IndexingTokensPerSecond = 5_000 };
        var decider = new RouteDecider(TestCatalog.All, rag);
        var indexed = decider.Decide(Request(100_000), new TenantPolicy(), BudgetState.Unlimited);
        var inline = decider.Decide(Request(100_000) with { TokensToIndex = 100_000 }, new TenantPolicy(), BudgetState.Unlimited);

        var (before, after) = (indexed.Candidates.First(v => v.Candidate.Route == RouteKind.Rag).Candidate, inline.Candidates.First(v => v.Candidate.Route == RouteKind.Rag).Candidate);
        // 100,000 tokens at 5,000 tokens/s is 20 s; at $0.02 per 1M it is $0.002.
        Assert.Equal(20.0, after.ExpectedLatencySeconds - before.ExpectedLatencySeconds, precision: 6);
        Assert.Equal(0.002m, after.ExpectedCostUsd - before.ExpectedCostUsd);
        Assert.Contains(after.Basis, b => b.Contains("embedded and indexed first", StringComparison.Ordinal));
        var lc = (indexed.Candidates.First(v => v.Candidate.Route == RouteKind.LongContext).Candidate, inline.Candidates.First(v => v.Candidate.Route == RouteKind.LongContext).Candidate);
        Assert.Equal(lc.Item1.ExpectedCostUsd, lc.Item2.ExpectedCostUsd);
        Assert.Equal(lc.Item1.ExpectedLatencySeconds, lc.Item2.ExpectedLatencySeconds);
    }

    [Fact]
    public void TenMillionTokenCorpus_NeverGoesLongContext()
    {
        var decision = Decider.Decide(Request(10_000_000), new TenantPolicy { RecallFloor = 0.95, Objective = RouteStrategies.MaxRecallUnderCap }, BudgetState.Unlimited);

        Assert.Equal(DecisionOutcome.Routed, decision.Outcome);
        Assert.Equal(RouteKind.Rag, decision.Chosen!.Route);
        Assert.All(decision.Candidates.Where(v => v.Candidate.Route != RouteKind.Rag), v =>
        {
            Assert.False(v.Feasible);
            Assert.Contains(v.RejectedBecause, r => r.Contains("window", StringComparison.Ordinal));
        });
    }

    [Fact]
    public void TwentyThousandTokenCorpus_GenerousBudget_GoesLongContext()
    {
        var policy = new TenantPolicy { RecallFloor = 0.9, MonthlyBudgetUsd = 1_000, Objective = RouteStrategies.MaxRecallUnderCap };
        var decision = Decider.Decide(Request(20_000), policy, new BudgetState(1_000, null));

        Assert.Equal(RouteKind.LongContext, decision.Chosen!.Route);
        Assert.True(decision.Chosen.ExpectedRecall >= 0.9);

        // RAG is cheaper but its recall (retrieval 85% × model) misses the floor; hybrid recalls as
        // well but is slower (a RAG step first, then sometimes the long-context step too).
        var rag = decision.Candidates.Where(v => v.Candidate.Route == RouteKind.Rag).ToList();
        Assert.All(rag, v => Assert.True(v.Candidate.ExpectedRecall < 0.9));
        Assert.True(rag.Min(v => v.Candidate.ExpectedCostUsd) < decision.Chosen.ExpectedCostUsd);
    }

    [Fact]
    public void TwentyThousandTokenCorpus_CheapestAtRecall_GoesHybrid()
    {
        // Self-Route's result: about long-context recall at a fraction of its cost.
        var decision = Decider.Decide(Request(20_000), new TenantPolicy { RecallFloor = 0.9 }, BudgetState.Unlimited);

        Assert.Equal(RouteKind.Hybrid, decision.Chosen!.Route);
        var lc = decision.Candidates.Where(v => v.Feasible && v.Candidate.Route == RouteKind.LongContext).Min(v => v.Candidate.ExpectedCostUsd);
        Assert.True(decision.Chosen.ExpectedCostUsd < lc);
    }

    [Fact]
    public void TenantAtNinetyNinePercentOfBudget_IsRoutedCheaper()
    {
        var policy = new TenantPolicy { RecallFloor = 0.9, MonthlyBudgetUsd = 100 };
        var generous = Decider.Decide(Request(300_000), policy, new BudgetState(100, null));
        var nearlySpent = Decider.Decide(Request(300_000), policy, new BudgetState(0.01m, null));

        Assert.NotEqual(RouteKind.Rag, generous.Chosen!.Route);
        Assert.Equal(DecisionOutcome.Routed, nearlySpent.Outcome);
        Assert.Equal(RouteKind.Rag, nearlySpent.Chosen!.Route);
        Assert.True(nearlySpent.Chosen.WorstCaseCostUsd <= 0.01m);
        Assert.Contains(nearlySpent.Candidates, v => v.RejectedBecause.Any(r => r.Contains("left in the budget", StringComparison.Ordinal)));
    }

    [Fact]
    public void TenantWithAlmostNothingLeft_IsRefusedAsOverBudget()
    {
        var decision = Decider.Decide(Request(300_000), new TenantPolicy(), new BudgetState(0.000001m, null));

        Assert.Equal(DecisionOutcome.OverBudget, decision.Outcome);
        Assert.Null(decision.Chosen);
        Assert.Equal(0.000001m, decision.BudgetRemainingUsd);
        Assert.Contains("left in the budget", decision.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void KvMemory_RingFitsWhereFullAttentionDoesNot()
    {
        var decision = Decider.Decide(Request(900_000), new TenantPolicy { AllowedModels = ["self-hosted", "mini"] }, BudgetState.Unlimited);

        var full = decision.Candidates.Single(v => v.Candidate.Id == "long_context:self-hosted:full");
        var ring = decision.Candidates.Single(v => v.Candidate.Id == "long_context:self-hosted:ring");
        Assert.Contains(full.RejectedBecause, r => r.StartsWith("KV cache", StringComparison.Ordinal));
        Assert.True(ring.Feasible);
        Assert.Equal(ring.Candidate.KvBytesPerGpu, (long)Math.Ceiling(TestCatalog.Llama70B.BytesFor(ring.Candidate.PromptTokens + 500) / 8.0));
    }

    [Fact]
    public void CandidateItsUpstreamRefused_IsRuledOut_AndTheNextBestChosen()
    {
        var policy = new TenantPolicy { RecallFloor = 0.9, MonthlyBudgetUsd = 1_000, Objective = RouteStrategies.MaxRecallUnderCap };
        var first = Decider.Decide(Request(20_000), policy, new BudgetState(1_000, null));
        var refused = new Dictionary<string, string> { [first.Chosen!.Id] = "kv_cache_does_not_fit: needs 9 GB, 8 GB available" };

        var second = Decider.Decide(Request(20_000) with { RefusedCandidates = refused }, policy, new BudgetState(1_000, null));

        Assert.NotEqual(first.Chosen.Id, second.Chosen!.Id);
        var again = second.Candidates.Single(v => v.Candidate.Id == first.Chosen.Id);
        Assert.False(again.Feasible);
        Assert.Contains(again.RejectedBecause, r => r == "its upstream refused this request: kv_cache_does_not_fit: needs 9 GB, 8 GB available");
        // Everything else is judged as before: the same candidates stay feasible.
        Assert.Equal(first.Candidates.Count(v => v.Feasible) - 1, second.Candidates.Count(v => v.Feasible));
    }

    [Fact]
    public void ForcedRoute_HonouredWhenPolicyAllows_IgnoredWhenNot()
    {
        var allowed = Decider.Decide(Request(20_000, RouteKind.Rag), new TenantPolicy { RecallFloor = 0.9 }, BudgetState.Unlimited);
        var refused = Decider.Decide(Request(20_000, RouteKind.Rag), new TenantPolicy { RecallFloor = 0.9, AllowForcedRoute = false }, BudgetState.Unlimited);

        Assert.Equal(RouteKind.Rag, allowed.Chosen!.Route);
        Assert.True(allowed.ForcedRouteHonoured);
        Assert.NotEqual(RouteKind.Rag, refused.Chosen!.Route);
        Assert.False(refused.ForcedRouteHonoured);
        Assert.Contains(refused.Notes, n => n.Contains("does not let clients force", StringComparison.Ordinal));
    }

    [Fact]
    public void HybridCost_IsRagPlusEscalationShareOfLongContext()
    {
        var decision = Decider.Decide(Request(100_000), new TenantPolicy(), BudgetState.Unlimited);

        var rag = decision.Candidates.Single(v => v.Candidate.Id == "rag:mini").Candidate;
        var lc = decision.Candidates.Single(v => v.Candidate.Id == "long_context:gpt-5.2").Candidate;
        var hybrid = decision.Candidates.Single(v => v.Candidate.Id == "hybrid:mini>gpt-5.2").Candidate;
        Assert.Equal(rag.ExpectedCostUsd + 0.35m * lc.ExpectedCostUsd, hybrid.ExpectedCostUsd);
        Assert.Equal(rag.WorstCaseCostUsd + lc.WorstCaseCostUsd, hybrid.WorstCaseCostUsd);
        Assert.Equal("gpt-5.2", hybrid.EscalationModel);
    }

    [Fact]
    public void LearnedEscalationRate_StartsAtThePrior_FollowsObservations_AndPricesTheHybrid()
    {
        Assert.Equal(0.35, EscalationEstimate.Smoothed(0, 0, 0.35, 10).Probability, 12);
        Assert.Equal((3 + 3.5) / 20, EscalationEstimate.Smoothed(10, 3, 0.35, 10).Probability, 12);
        Assert.Equal((900 + 3.5) / 1010, EscalationEstimate.Smoothed(1000, 900, 0.35, 10).Probability, 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => EscalationEstimate.Smoothed(2, 3, 0.35, 10));

        var learned = EscalationEstimate.Smoothed(1000, 900, 0.35, 10);
        var decision = Decider.Decide(Request(100_000) with { Escalation = learned }, new TenantPolicy(), BudgetState.Unlimited);

        var rag = decision.Candidates.Single(v => v.Candidate.Id == "rag:mini").Candidate;
        var lc = decision.Candidates.Single(v => v.Candidate.Id == "long_context:gpt-5.2").Candidate;
        var hybrid = decision.Candidates.Single(v => v.Candidate.Id == "hybrid:mini>gpt-5.2").Candidate;
        Assert.Equal(rag.ExpectedCostUsd + (decimal)learned.Probability * lc.ExpectedCostUsd, hybrid.ExpectedCostUsd);
        Assert.Contains(hybrid.Basis, b => b.Contains("900 of 1000 observed escalated", StringComparison.Ordinal));
    }

    [Fact]
    public void Explanation_ListsEveryCandidate_WithCounterfactualCosts()
    {
        var decision = Decider.Decide(Request(50_000), new TenantPolicy(), BudgetState.Unlimited);

        Assert.Single(decision.Candidates, v => v.Chosen);
        Assert.Equal(decision.Candidates.Count - 1, decision.CounterfactualCostsUsd.Count);
        Assert.All(decision.Candidates, v => Assert.NotEmpty(v.Candidate.Basis));
        Assert.Contains(decision.Chosen!.Id, decision.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void RouteNotAllowed_IsFilteredWithReason()
    {
        var decision = Decider.Decide(Request(20_000), new TenantPolicy { AllowedRoutes = [RouteKind.Rag] }, BudgetState.Unlimited);

        Assert.Equal(RouteKind.Rag, decision.Chosen!.Route);
        Assert.All(decision.Candidates.Where(v => v.Candidate.Route != RouteKind.Rag), v => Assert.Contains(v.RejectedBecause, r => r.Contains("not allowed", StringComparison.Ordinal)));
    }

    [Fact]
    public void ApproximateCounts_AreDeclaredInTheDecision()
    {
        var decision = Decider.Decide(Request(20_000) with { CountsApproximate = true }, new TenantPolicy(), BudgetState.Unlimited);

        Assert.Contains(decision.Notes, n => n.Contains("approximate", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownObjective_IsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => Decider.Decide(Request(1_000), new TenantPolicy { Objective = "Cheapest" }, BudgetState.Unlimited));

        Assert.Contains("MinCostAtRecall", error.Message, StringComparison.Ordinal);
    }
}
