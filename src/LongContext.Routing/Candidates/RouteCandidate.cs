using LongContext.Routing.Decision;

namespace LongContext.Routing.Candidates;

/// <summary>One way to serve the request, with its expected numbers and what they rest on.</summary>
public sealed record RouteCandidate
{
    /// <summary>Stable id: route, model and attention method, e.g. <c>long_context:self-hosted:ring</c>.</summary>
    public required string Id { get; init; }

    public required RouteKind Route { get; init; }

    /// <summary>The model that answers (for hybrid: the RAG step's model).</summary>
    public required string Model { get; init; }

    /// <summary>Hybrid only: the long-context model the request escalates to.</summary>
    public string? EscalationModel { get; init; }

    /// <summary>Self-hosted backend only: the attention method.</summary>
    public string? Attention { get; init; }

    public long PromptTokens { get; init; }

    public long OutputTokens { get; init; }

    /// <summary>The answering model's window; the prompt plus output must fit it.</summary>
    public long ContextWindow { get; init; }

    /// <summary>Self-hosted only: KV cache bytes each GPU must hold, and what each has free.</summary>
    public long? KvBytesPerGpu { get; init; }

    public long? KvFreeBytesPerGpu { get; init; }

    public decimal ExpectedCostUsd { get; init; }

    /// <summary>
    /// The most the request can cost (hybrid: both steps). Budgets and caps are checked against it
    /// and the ledger reserves it, so an escalation can never overspend.
    /// </summary>
    public decimal WorstCaseCostUsd { get; init; }

    public double ExpectedRecall { get; init; }

    public double ExpectedLatencySeconds { get; init; }

    /// <summary>How the numbers were reached, in words a dashboard can show.</summary>
    public IReadOnlyList<string> Basis { get; init; } = [];
}
