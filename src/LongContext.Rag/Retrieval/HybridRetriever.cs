using LongContext.Rag.VectorStores;
using Microsoft.Extensions.AI;

namespace LongContext.Rag.Retrieval;

public sealed record RetrievalOptions
{
    public int TopK { get; init; } = 8;

    /// <summary>How many results each of dense and keyword search contributes to the fusion.</summary>
    public int CandidatesPerMethod { get; init; } = 50;

    /// <summary>The k of reciprocal-rank fusion: score = Σ 1 / (k + rank). 60 is the value of Cormack et al. 2009.</summary>
    public int FusionK { get; init; } = 60;

    /// <summary>Re-rank the fused list by maximal marginal relevance so near-duplicate chunks do not crowd the top.</summary>
    public bool UseMmr { get; init; }

    /// <summary>MMR's trade-off: 1 is pure relevance, 0 pure diversity.</summary>
    public double MmrLambda { get; init; } = 0.7;
}

public enum RetrievalMode
{
    Hybrid,
    Dense,
    Keywords,
}

/// <summary>A retrieved chunk with its fused score and its rank under each method (null when that method did not find it).</summary>
public sealed record RetrievedChunk(StoredChunk Chunk, double Score, int? DenseRank, int? KeywordRank);

/// <summary>
/// Dense search with the corpus's embedding model and BM25 keyword search, fused by reciprocal
/// rank: dense finds paraphrases, BM25 finds exact identifiers (codes, numbers, names) that
/// embeddings blur; chunks holding an identifier the question names come first.
/// </summary>
public sealed class HybridRetriever(IVectorStore store, IEmbeddingGenerator<string, Embedding<float>> embeddings, RetrievalOptions options)
{
    public async Task<IReadOnlyList<RetrievedChunk>> RetrieveAsync(string tenantId, string corpusId, string query, RetrievalMode mode = RetrievalMode.Hybrid, int? topK = null, CancellationToken cancellationToken = default)
    {
        var k = topK ?? options.TopK;
        var pool = Math.Max(options.CandidatesPerMethod, k);
        // Keyword search runs while the question is embedded and searched densely: the two are independent.
        var keywordSearch = mode == RetrievalMode.Dense
            ? Task.FromResult<IReadOnlyList<ScoredChunk>>([])
            : Task.Run(() => store.SearchKeywordsAsync(tenantId, corpusId, query, pool, cancellationToken), cancellationToken);
        IReadOnlyList<ScoredChunk> dense = [];
        if (mode != RetrievalMode.Keywords)
        {
            var queryVector = Embeddings.VectorMath.Normalize((await embeddings.GenerateAsync([query], cancellationToken: cancellationToken))[0].Vector);
            dense = await store.SearchDenseAsync(tenantId, corpusId, queryVector, pool, cancellationToken);
        }

        var keywords = await keywordSearch;

        var fused = new Dictionary<long, (StoredChunk Chunk, double Score, int? Dense, int? Keyword)>();
        for (var rank = 0; rank < dense.Count; rank++)
        {
            var hit = dense[rank];
            fused[hit.Chunk.Key] = (hit.Chunk, 1.0 / (options.FusionK + rank + 1), rank + 1, null);
        }

        for (var rank = 0; rank < keywords.Count; rank++)
        {
            var hit = keywords[rank];
            var score = 1.0 / (options.FusionK + rank + 1);
            fused[hit.Chunk.Key] = fused.TryGetValue(hit.Chunk.Key, out var existing)
                ? (existing.Chunk, existing.Score + score, existing.Dense, rank + 1)
                : (hit.Chunk, score, null, rank + 1);
        }

        // A question that names an identifier wants the chunks holding it before any that merely look alike:
        // rank fusion alone lets a chunk that both methods find somewhat similar outrank the one exact match.
        var identifiers = mode == RetrievalMode.Dense ? [] : KeywordQuery.Identifiers(query);
        var ranked = fused.Values
            .OrderBy(f => identifiers.Count > 0 && KeywordQuery.ContainsAny(f.Chunk.Text, identifiers) ? 0 : 1)
            .ThenByDescending(f => f.Score).ThenBy(f => f.Chunk.Key)
            .Select(f => new RetrievedChunk(f.Chunk, f.Score, f.Dense, f.Keyword))
            .ToList();
        if (options.UseMmr && ranked.Count > k && mode != RetrievalMode.Keywords)
        {
            return await MaximalMarginalRelevanceAsync(ranked, k, cancellationToken);
        }

        return ranked.Take(k).ToList();
    }

    /// <summary>Greedy MMR over the fused candidates: relevance is the fused score (normalised), redundancy the cosine to chunks already picked.</summary>
    private async Task<IReadOnlyList<RetrievedChunk>> MaximalMarginalRelevanceAsync(List<RetrievedChunk> ranked, int k, CancellationToken cancellationToken)
    {
        var pool = ranked.Take(Math.Min(ranked.Count, k * 4)).ToList();
        var vectors = (await embeddings.GenerateAsync(pool.Select(c => c.Chunk.Text), cancellationToken: cancellationToken)).Select(e => Embeddings.VectorMath.Normalize(e.Vector).ToArray()).ToList();
        var top = pool[0].Score;
        var picked = new List<int>();
        var remaining = Enumerable.Range(0, pool.Count).ToList();
        while (picked.Count < k && remaining.Count > 0)
        {
            var best = remaining.MaxBy(i => options.MmrLambda * pool[i].Score / top
                - (1 - options.MmrLambda) * (picked.Count == 0 ? 0 : picked.Max(j => Cosine(vectors[i], vectors[j]))));
            picked.Add(best);
            remaining.Remove(best);
        }

        return [.. picked.Select(i => pool[i])];
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
        }

        return dot;
    }
}
