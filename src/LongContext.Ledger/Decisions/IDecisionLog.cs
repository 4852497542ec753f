namespace LongContext.Ledger.Decisions;

/// <summary>
/// One row per routed request: what was decided, what it was expected to cost and recall, what it
/// really cost, and what the other candidates would have cost. Dashboards read it.
/// </summary>
public interface IDecisionLog
{
    Task RecordAsync(DecisionRecord record, CancellationToken cancellationToken = default);

    /// <summary>
    /// Settles the request's reservation — commits <paramref name="actualUsd"/>, or releases it when
    /// null — and writes its decision row in the same transaction, so spend and log never disagree
    /// and a request costs the ledger one write at its end. False (and no row) when the reservation
    /// is unknown or already settled.
    /// </summary>
    Task<bool> SettleAndRecordAsync(Guid reservationId, decimal? actualUsd, DecisionRecord record, CancellationToken cancellationToken = default);

    Task<DecisionRecord?> GetAsync(string tenantId, Guid decisionId, CancellationToken cancellationToken = default);

    /// <summary>The tenant's decisions from <paramref name="since"/> on, newest first.</summary>
    Task<IReadOnlyList<DecisionRecord>> ListAsync(string tenantId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default);

    /// <summary>Hybrid requests the tenant ran on a corpus from <paramref name="since"/> on (those whose RAG step answered or escalated), and how many escalated.</summary>
    Task<EscalationCounts> CountEscalationsAsync(string tenantId, string corpus, DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>Observed hybrid executions: how many ran, how many escalated to long context.</summary>
public readonly record struct EscalationCounts(long Observed, long Escalated);

/// <summary>How a request ended.</summary>
public static class DecisionStatuses
{
    /// <summary>The upstream answered; its usage was committed.</summary>
    public const string Completed = "completed";

    /// <summary>The upstream failed or was unreachable; the reservation was released.</summary>
    public const string Failed = "failed";

    /// <summary>The gateway refused the request (over budget, no feasible route); nothing was forwarded.</summary>
    public const string Refused = "refused";

    /// <summary>The client went away mid-answer; the reservation was committed as spent.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The upstream refused the request as too large for it (KV cache, context window); the reservation was released and the request decided again under a new decision.</summary>
    public const string Rerouted = "rerouted";
}

public sealed record DecisionRecord
{
    public required Guid Id { get; init; }

    public required string TenantId { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>routed, over_budget or no_feasible_route.</summary>
    public required string Outcome { get; init; }

    /// <summary>One of <see cref="DecisionStatuses"/>.</summary>
    public required string Status { get; init; }

    public string? Route { get; init; }

    public string? CandidateId { get; init; }

    public string? Model { get; init; }

    public string? Attention { get; init; }

    public bool ForcedRoute { get; init; }

    public decimal? EstimatedCostUsd { get; init; }

    /// <summary>What the ledger held for the request (the chosen candidate's worst case).</summary>
    public decimal? ReservedUsd { get; init; }

    public decimal? ActualCostUsd { get; init; }

    public double? ExpectedRecall { get; init; }

    /// <summary>Prompt tokens as the gateway counted them.</summary>
    public long EstimatedPromptTokens { get; init; }

    public long? PromptTokens { get; init; }

    public long? CachedPromptTokens { get; init; }

    public long? CompletionTokens { get; init; }

    public Guid? ReservationId { get; init; }

    /// <summary>Expected cost of every other candidate, by candidate id.</summary>
    public IReadOnlyDictionary<string, decimal> CounterfactualCostsUsd { get; init; } = new Dictionary<string, decimal>();

    public string Explanation { get; init; } = "";

    /// <summary>The vector store the request answered from; null for inline context.</summary>
    public string? Corpus { get; init; }

    /// <summary>Hybrid: whether the RAG step's answer was the insufficiency marker and the long-context step ran; null for other routes.</summary>
    public bool? Escalated { get; init; }

    /// <summary>Hybrid: what the RAG step cost.</summary>
    public decimal? RagStepCostUsd { get; init; }

    /// <summary>Hybrid: what the long-context step cost (null when it did not run).</summary>
    public decimal? LongContextStepCostUsd { get; init; }

    /// <summary>The whole decision (every candidate, its numbers and verdict) as JSON.</summary>
    public string DetailJson { get; init; } = "{}";
}
