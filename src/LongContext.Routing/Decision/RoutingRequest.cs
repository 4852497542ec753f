namespace LongContext.Routing.Decision;

/// <summary>What routing needs to know about one request: measured sizes, not text.</summary>
public sealed record RoutingRequest
{
    /// <summary>Tokens of the conversation itself (system prompt, history, question).</summary>
    public long QuestionTokens { get; init; }

    /// <summary>Tokens of the context to answer from: the corpus plus any inline context.</summary>
    public long ContextTokens { get; init; }

    /// <summary>Output tokens to budget for: the request's max_tokens, else the configured default.</summary>
    public long ExpectedOutputTokens { get; init; }

    /// <summary>A route the client asked for; honoured only where the tenant's policy allows.</summary>
    public RouteKind? ForcedRoute { get; init; }

    /// <summary>
    /// Whether the context can be searched (an indexed corpus). Without it the RAG and hybrid
    /// candidates are listed but ruled out, so their cost still shows as a counterfactual.
    /// </summary>
    public bool RetrievalAvailable { get; init; } = true;

    /// <summary>Measured when retrieval already ran: tokens of the chunks the RAG prompt would carry (else top-k × chunk size, capped by the context).</summary>
    public long? RagContextTokens { get; init; }

    /// <summary>Where the best chunk lands in the RAG prompt (0 = start, 1 = end), as the positioner placed it; null assumes the start.</summary>
    public double? RagKeyDepth { get; init; }

    /// <summary>Where the best chunk lands in the positioned whole corpus; null assumes the start.</summary>
    public double? LongContextKeyDepth { get; init; }

    /// <summary>
    /// Context tokens that must be embedded before retrieval can run (an inline context indexed for
    /// this request only); 0 for an already indexed corpus. Adds embedding cost and time to RAG.
    /// </summary>
    public long TokensToIndex { get; init; }

    /// <summary>Routes the caller can carry out for this request; null means all. Others are listed, ruled out, and costed.</summary>
    public IReadOnlyList<RouteKind>? ExecutableRoutes { get; init; }

    /// <summary>
    /// Candidates already tried for this request whose upstream refused it as too large for it (its
    /// KV cache or context window), by candidate id, with the upstream's reason: ruled out, so the
    /// decision moves to the next feasible candidate.
    /// </summary>
    public IReadOnlyDictionary<string, string>? RefusedCandidates { get; init; }

    /// <summary>
    /// The hybrid candidate's probability of escalating to long context, as learned for this
    /// tenant and corpus; null = the configured prior (<see cref="RagSettings.EscalationProbability"/>).
    /// </summary>
    public EscalationEstimate? Escalation { get; init; }

    /// <summary>True when some count came from the declared approximation instead of the model's tokenizer.</summary>
    public bool CountsApproximate { get; init; }
}

/// <summary>A probability that a hybrid request escalates, and where it comes from (shown in the decision).</summary>
public sealed record EscalationEstimate(double Probability, string Basis)
{
    /// <summary>
    /// The Beta–binomial posterior mean: the prior counts as <paramref name="priorWeight"/>
    /// observations at <paramref name="prior"/>, so (escalated + w·prior) / (observed + w) starts at
    /// the prior and follows what is observed as observations accumulate.
    /// </summary>
    public static EscalationEstimate Smoothed(long observed, long escalated, double prior, double priorWeight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(observed);
        ArgumentOutOfRangeException.ThrowIfNegative(escalated);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(escalated, observed);
        ArgumentOutOfRangeException.ThrowIfNegative(priorWeight);
        var probability = observed + priorWeight == 0 ? prior : (escalated + priorWeight * prior) / (observed + priorWeight);
        return new(probability, $"{escalated} of {observed} observed escalated; prior {prior:P0} weighted as {priorWeight:0.#} observations");
    }
}
