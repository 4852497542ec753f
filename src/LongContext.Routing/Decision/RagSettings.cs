namespace LongContext.Routing.Decision;

/// <summary>How the RAG and hybrid routes are costed and scored. Defaults name their source in config/routing.json.</summary>
public sealed record RagSettings
{
    /// <summary>How many chunks retrieval puts in the RAG prompt.</summary>
    public int TopK { get; init; } = 8;

    /// <summary>Tokens per chunk the corpora are cut into.</summary>
    public int ChunkTokens { get; init; } = 512;

    /// <summary>Instructions and formatting around the retrieved chunks.</summary>
    public int PromptOverheadTokens { get; init; } = 200;

    /// <summary>Chance that the top-k chunks contain the chunk that answers (retrieval recall@k).</summary>
    public double RetrievalRecall { get; init; } = 0.85;

    /// <summary>Price of embedding the question; 0 for the local embedding model.</summary>
    public decimal EmbeddingPerMillion { get; init; }

    /// <summary>Time retrieval adds before the model is called (embedding the question and searching).</summary>
    public double RetrievalLatencySeconds { get; init; } = 0.05;

    /// <summary>How fast the embedding model indexes context, for the time an inline context takes to index.</summary>
    public double IndexingTokensPerSecond { get; init; } = 5_000;

    /// <summary>Hybrid: share of requests whose chunks the model declares insufficient (escalated to long context).</summary>
    public double EscalationProbability { get; init; } = 0.35;
}
