namespace LongContext.Routing.Decision;

/// <summary>How the RAG and hybrid routes are costed and scored. Defaults name their source in config/routing.json.</summary>
public sealed record RagSettings
{
    public int TopK { get; init; } = 8;

    public int ChunkTokens { get; init; } = 512;

    /// <summary>Instructions and formatting around the retrieved chunks.</summary>
    public int PromptOverheadTokens { get; init; } = 200;

    /// <summary>Chance that the top-k chunks contain the chunk that answers (retrieval recall@k).</summary>
    public double RetrievalRecall { get; init; } = 0.85;

    /// <summary>Price of embedding the question; 0 for the local embedding model.</summary>
    public decimal EmbeddingPerMillion { get; init; }

    public double RetrievalLatencySeconds { get; init; } = 0.05;

    /// <summary>How fast the embedding model indexes context, for the time an inline context takes to index.</summary>
    public double IndexingTokensPerSecond { get; init; } = 5_000;

    /// <summary>Hybrid: share of requests whose chunks the model declares insufficient (escalated to long context).</summary>
    public double EscalationProbability { get; init; } = 0.35;
}
