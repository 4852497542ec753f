namespace LongContext.Rag.VectorStores;

/// <summary>
/// Where corpora live: chunks with their vectors and text, searchable by vector and by keywords.
/// Every call names the tenant; a corpus of another tenant does not exist for it.
/// </summary>
public interface IVectorStore
{
    Task<CorpusInfo> CreateCorpusAsync(string tenantId, string name, string tokenizer, int dimensions, CancellationToken cancellationToken = default);

    Task<CorpusInfo?> GetCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<CorpusInfo>> ListCorporaAsync(string tenantId, CancellationToken cancellationToken = default);

    Task<bool> DeleteCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default);

    /// <summary>Adds documents and all their chunks at once: afterwards either all are searchable or none is.</summary>
    Task<CorpusInfo> AddDocumentsAsync(string tenantId, string corpusId, IReadOnlyList<IndexedDocument> documents, CancellationToken cancellationToken = default);

    /// <summary>Nearest chunks by cosine similarity (vectors are unit length), best first.</summary>
    Task<IReadOnlyList<ScoredChunk>> SearchDenseAsync(string tenantId, string corpusId, ReadOnlyMemory<float> query, int limit, CancellationToken cancellationToken = default);

    /// <summary>Best chunks by BM25 over their words, best first.</summary>
    Task<IReadOnlyList<ScoredChunk>> SearchKeywordsAsync(string tenantId, string corpusId, string query, int limit, CancellationToken cancellationToken = default);

    /// <summary>Every chunk of the corpus in document order (the long-context route sends them all).</summary>
    Task<IReadOnlyList<StoredChunk>> GetChunksAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default);
}

/// <summary>A corpus and its size; TokenCount counts the documents' text once (chunk overlap not included).</summary>
public sealed record CorpusInfo(
    string Id,
    string TenantId,
    string Name,
    DateTimeOffset CreatedAt,
    string Tokenizer,
    int Dimensions,
    int DocumentCount,
    int ChunkCount,
    long TokenCount,
    long TextBytes);

/// <summary>A document ready to store: its chunks cut and embedded; Tokens counts the whole text once (what the long-context route sends).</summary>
public sealed record IndexedDocument(string Id, string Name, string Text, int Tokens, IReadOnlyList<IndexedChunk> Chunks);

public sealed record IndexedChunk(int Ordinal, int Start, int End, int Tokens, string Text, ReadOnlyMemory<float> Vector);

public sealed record StoredChunk(long Key, string DocumentId, string DocumentName, int Ordinal, int Start, int End, int Tokens, string Text);

public sealed record ScoredChunk(StoredChunk Chunk, double Score);
