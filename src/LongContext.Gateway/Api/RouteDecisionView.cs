using System.Text.Json.Serialization;
using LongContext.Gateway.Routing;
using LongContext.Routing.Decision;

namespace LongContext.Gateway.Api;

/// <summary>A routing decision as <c>POST /v1/route</c> returns it and the decision log stores it.</summary>
internal sealed record RouteDecisionView(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("route")] string? Route,
    [property: JsonPropertyName("candidate")] string? Candidate,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("attention")] string? Attention,
    [property: JsonPropertyName("strategy")] string Strategy,
    [property: JsonPropertyName("explanation")] string Explanation,
    [property: JsonPropertyName("notes")] IReadOnlyList<string> Notes,
    [property: JsonPropertyName("expected_cost_usd")] decimal? ExpectedCostUsd,
    [property: JsonPropertyName("worst_case_cost_usd")] decimal? WorstCaseCostUsd,
    [property: JsonPropertyName("expected_recall")] double? ExpectedRecall,
    [property: JsonPropertyName("budget_remaining_usd")] decimal? BudgetRemainingUsd,
    [property: JsonPropertyName("forced_route_honoured")] bool ForcedRouteHonoured,
    [property: JsonPropertyName("request")] RoutingRequestView Request,
    [property: JsonPropertyName("corpus")] CorpusUseView? Corpus,
    [property: JsonPropertyName("candidates")] IReadOnlyList<CandidateView> Candidates,
    [property: JsonPropertyName("counterfactual_costs_usd")] IReadOnlyDictionary<string, decimal> CounterfactualCostsUsd)
{
    public static RouteDecisionView From(RoutePlan plan, Guid? id)
    {
        var d = plan.Decision;
        var r = plan.Request;
        var chosen = d.Chosen;
        return new RouteDecisionView(
            "route.decision",
            id?.ToString(),
            OutcomeName(d.Outcome),
            chosen is null ? null : RouteNames.Of(chosen.Route),
            chosen?.Id,
            chosen?.Model,
            chosen?.Attention,
            d.Strategy,
            d.Explanation,
            d.Notes,
            chosen?.ExpectedCostUsd,
            chosen?.WorstCaseCostUsd,
            chosen?.ExpectedRecall,
            d.BudgetRemainingUsd,
            d.ForcedRouteHonoured,
            new RoutingRequestView(r.QuestionTokens, r.ContextTokens, r.ExpectedOutputTokens, r.ForcedRoute is { } f ? RouteNames.Of(f) : null, r.CountsApproximate, r.RetrievalAvailable),
            plan.Corpus is { } c
                ? new CorpusUseView(c.Corpus.Id, c.Corpus.TokenCount, c.Corpus.ChunkCount, [.. c.Hits.Select(h => new RetrievedView(h.Chunk.DocumentName, h.Chunk.Ordinal, Math.Round(h.Score, 6), h.DenseRank, h.KeywordRank))], c.RagPromptTokens, Math.Round(c.RagKeyDepth, 4), Math.Round(c.LongContextKeyDepth, 6))
                : null,
            [.. d.Candidates.Select(v => new CandidateView(
                v.Candidate.Id,
                RouteNames.Of(v.Candidate.Route),
                v.Candidate.Model,
                v.Candidate.EscalationModel,
                v.Candidate.Attention,
                v.Feasible,
                v.Chosen,
                v.RejectedBecause,
                v.Candidate.PromptTokens,
                v.Candidate.OutputTokens,
                v.Candidate.ContextWindow,
                v.Candidate.KvBytesPerGpu,
                v.Candidate.KvFreeBytesPerGpu,
                v.Candidate.ExpectedCostUsd,
                v.Candidate.WorstCaseCostUsd,
                Math.Round(v.Candidate.ExpectedRecall, 4),
                Math.Round(v.Candidate.ExpectedLatencySeconds, 3),
                v.Candidate.Basis))],
            d.CounterfactualCostsUsd);
    }

    public static string OutcomeName(DecisionOutcome outcome) => outcome switch
    {
        DecisionOutcome.Routed => "routed",
        DecisionOutcome.OverBudget => "over_budget",
        _ => "no_feasible_route",
    };
}

internal sealed record RoutingRequestView(
    [property: JsonPropertyName("question_tokens")] long QuestionTokens,
    [property: JsonPropertyName("context_tokens")] long ContextTokens,
    [property: JsonPropertyName("expected_output_tokens")] long ExpectedOutputTokens,
    [property: JsonPropertyName("forced_route")] string? ForcedRoute,
    [property: JsonPropertyName("counts_approximate")] bool CountsApproximate,
    [property: JsonPropertyName("retrieval_available")] bool RetrievalAvailable);

/// <summary>The corpus the request named and what retrieval found in it before the decision.</summary>
internal sealed record CorpusUseView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("tokens")] long Tokens,
    [property: JsonPropertyName("chunks")] int Chunks,
    [property: JsonPropertyName("retrieved")] IReadOnlyList<RetrievedView> Retrieved,
    [property: JsonPropertyName("rag_prompt_tokens")] long RagPromptTokens,
    [property: JsonPropertyName("rag_key_depth")] double RagKeyDepth,
    [property: JsonPropertyName("long_context_key_depth")] double LongContextKeyDepth);

internal sealed record RetrievedView(
    [property: JsonPropertyName("document")] string Document,
    [property: JsonPropertyName("chunk")] int Chunk,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("dense_rank")] int? DenseRank,
    [property: JsonPropertyName("keyword_rank")] int? KeywordRank);

internal sealed record CandidateView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("route")] string Route,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("escalation_model")] string? EscalationModel,
    [property: JsonPropertyName("attention")] string? Attention,
    [property: JsonPropertyName("feasible")] bool Feasible,
    [property: JsonPropertyName("chosen")] bool Chosen,
    [property: JsonPropertyName("rejected_because")] IReadOnlyList<string> RejectedBecause,
    [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
    [property: JsonPropertyName("output_tokens")] long OutputTokens,
    [property: JsonPropertyName("context_window")] long ContextWindow,
    [property: JsonPropertyName("kv_bytes_per_gpu")] long? KvBytesPerGpu,
    [property: JsonPropertyName("kv_free_bytes_per_gpu")] long? KvFreeBytesPerGpu,
    [property: JsonPropertyName("expected_cost_usd")] decimal ExpectedCostUsd,
    [property: JsonPropertyName("worst_case_cost_usd")] decimal WorstCaseCostUsd,
    [property: JsonPropertyName("expected_recall")] double ExpectedRecall,
    [property: JsonPropertyName("expected_latency_seconds")] double ExpectedLatencySeconds,
    [property: JsonPropertyName("basis")] IReadOnlyList<string> Basis);
