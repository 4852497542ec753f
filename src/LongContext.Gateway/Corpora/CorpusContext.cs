using LongContext.Rag.Positioning;
using LongContext.Rag.Prompting;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores;
using LongContext.Rag.VectorStores.Embedded;
using LongContext.Routing.Tokens;

namespace LongContext.Gateway.Corpora;

/// <summary>
/// What a request's corpus contributes before routing decides: its size, the chunks retrieval
/// found for the question, the RAG prompt positioned from them (so routing knows its real length
/// and the key chunk's depth), and the way to build the whole positioned corpus if long context wins.
/// </summary>
internal sealed record CorpusContext(
    CorpusInfo Corpus,
    string Question,
    IReadOnlyList<RetrievedChunk> Hits,
    string RagPrompt,
    long RagPromptTokens,
    double RagKeyDepth,
    double LongContextKeyDepth);

internal sealed class CorpusContextBuilder(CorpusServices corpora)
{
    public async Task<CorpusContext?> BuildAsync(string tenantId, string corpusId, string question, ITokenCounter counter, CancellationToken cancellationToken)
    {
        if (await corpora.Store.GetCorpusAsync(tenantId, corpusId, cancellationToken) is not { } corpus)
        {
            return null;
        }

        IReadOnlyList<RetrievedChunk> hits;
        using (var retrieve = Telemetry.GatewayTelemetry.Source.StartActivity("retrieve"))
        {
            hits = corpus.ChunkCount == 0 ? [] : await corpora.Retriever.RetrieveAsync(tenantId, corpusId, question, cancellationToken: cancellationToken);
            retrieve?.SetTag("lcg.corpus", corpusId);
            retrieve?.SetTag("lcg.hits", hits.Count);
        }

        using var position = Telemetry.GatewayTelemetry.Source.StartActivity("position");
        var positioned = EdgePositioner.Position(hits.Select(h => h.Chunk).ToList(), c => c.Tokens);
        var prompt = ContextPrompt.Build(positioned, corpora.RepeatQuestion ? question : null);
        var ragDepth = positioned.FirstOrDefault(p => p.Rank == 1)?.Depth ?? 0;

        // The long-context prompt puts the best chunk first: its middle sits half its length into the corpus.
        var lcDepth = hits.Count == 0 || corpus.TokenCount == 0 ? 0 : hits[0].Chunk.Tokens / 2.0 / corpus.TokenCount;
        return new CorpusContext(corpus, question, hits, prompt, counter.Count(prompt), ragDepth, lcDepth);
    }

    /// <summary>
    /// RAG over context sent inline: the documents are chunked, embedded and indexed for this
    /// request only, in a store of their own that is deleted afterwards, and the best chunks positioned.
    /// </summary>
    public async Task<string> InlineRagPromptAsync(IReadOnlyList<Api.InlineDocument> documents, string question, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("lcg-inline-").FullName;
        try
        {
            using var store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = directory }, cancellationToken);
            var corpus = await store.CreateCorpusAsync("inline", "inline", corpora.Tokenizer, corpora.Dimensions, cancellationToken);
            await new Rag.Corpora.CorpusIngestor(store, corpora.Embeddings, corpora.Chunking).IngestAsync(
                "inline", corpus.Id, [.. documents.Select(d => new Rag.Corpora.DocumentInput(d.Id, d.Id, d.Text))], cancellationToken: cancellationToken);
            var hits = await new HybridRetriever(store, corpora.Embeddings, corpora.Retrieval).RetrieveAsync("inline", corpus.Id, question, cancellationToken: cancellationToken);
            var positioned = EdgePositioner.Position(hits.Select(h => h.Chunk).ToList(), c => c.Tokens);
            return ContextPrompt.Build(positioned, corpora.RepeatQuestion ? question : null);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The whole corpus, key chunks at both ends, the rest in document order.</summary>
    public async Task<string> LongContextPromptAsync(CorpusContext context, CancellationToken cancellationToken)
    {
        var chunks = await corpora.Store.GetChunksAsync(context.Corpus.TenantId, context.Corpus.Id, cancellationToken);
        using var position = Telemetry.GatewayTelemetry.Source.StartActivity("position");
        position?.SetTag("lcg.chunks", chunks.Count);
        var positioned = EdgePositioner.PositionCorpus(chunks, [.. context.Hits.Select(h => h.Chunk)], c => c.Tokens, ChunkKeyComparer.Instance);
        return ContextPrompt.BuildCorpus(positioned, corpora.RepeatQuestion ? context.Question : null);
    }

    private sealed class ChunkKeyComparer : IEqualityComparer<StoredChunk>
    {
        public static ChunkKeyComparer Instance { get; } = new();

        public bool Equals(StoredChunk? x, StoredChunk? y) => x?.Key == y?.Key;

        public int GetHashCode(StoredChunk obj) => obj.Key.GetHashCode();
    }
}
