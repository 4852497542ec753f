using Qdrant.Client;
using Qdrant.Client.Grpc;
using static Qdrant.Client.Grpc.Conditions;

namespace LongContext.Rag.VectorStores.Qdrant;

public sealed record QdrantStoreOptions
{
    /// <summary>gRPC address of Qdrant, e.g. http://127.0.0.1:6334.</summary>
    public required Uri Address { get; init; }

    public string? ApiKey { get; init; }

    /// <summary>Prefix of every collection this gateway owns: {prefix}corpora (the registry) and {prefix}{corpus id}.</summary>
    public string CollectionPrefix { get; init; } = "lcg_";

    public int UpsertBatch { get; init; } = 256;
}

/// <summary>
/// Corpora in Qdrant: one collection per corpus with a named dense vector ("dense", cosine) and a
/// sparse BM25 vector ("bm25", IDF modifier), plus a registry collection holding each corpus's
/// tenant, name and totals. Qdrant has no transactions, so an ingestion writes its points marked
/// pending (every search skips them), unmarks them when all are written, and deletes them if
/// anything fails: a corpus never shows half an ingestion.
/// </summary>
public sealed class QdrantVectorStore : IVectorStore, IDisposable
{
    private const string Dense = "dense";
    private const string Sparse = "bm25";
    private const string Pending = "pending";

    private static readonly float[] RegistryVector = [0f];

    private readonly QdrantClient _client;
    private readonly QdrantStoreOptions _options;
    private readonly SemaphoreSlim _ingestion = new(1, 1);

    private QdrantVectorStore(QdrantClient client, QdrantStoreOptions options) => (_client, _options) = (client, options);

    private string Registry => _options.CollectionPrefix + "corpora";

    public static async Task<QdrantVectorStore> OpenAsync(QdrantStoreOptions options, CancellationToken cancellationToken = default)
    {
        var store = new QdrantVectorStore(new QdrantClient(options.Address, options.ApiKey), options);
        if (!await store._client.CollectionExistsAsync(store.Registry, cancellationToken))
        {
            // The registry holds payload only; Qdrant wants a vector per point, so a one-dimensional one.
            await store._client.CreateCollectionAsync(store.Registry, new VectorParams { Size = 1, Distance = Distance.Dot }, cancellationToken: cancellationToken);
        }

        return store;
    }

    public async Task<CorpusInfo> CreateCorpusAsync(string tenantId, string name, string tokenizer, int dimensions, CancellationToken cancellationToken = default)
    {
        var guid = Guid.CreateVersion7();
        var corpus = new CorpusInfo("vs_" + guid.ToString("N"), tenantId, name, DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), tokenizer, dimensions, 0, 0, 0, 0);
        await _client.CreateCollectionAsync(
            Collection(corpus.Id),
            new VectorParamsMap { Map = { [Dense] = new VectorParams { Size = (ulong)dimensions, Distance = Distance.Cosine } } },
            sparseVectorsConfig: new SparseVectorConfig { Map = { [Sparse] = new SparseVectorParams { Modifier = Modifier.Idf } } },
            cancellationToken: cancellationToken);
        await SaveAsync(corpus, cancellationToken);
        return corpus;
    }

    public async Task<CorpusInfo?> GetCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        if (!TryGuid(corpusId, out var guid))
        {
            return null;
        }

        var points = await _client.RetrieveAsync(Registry, guid, withPayload: true, withVectors: false, cancellationToken: cancellationToken);
        return points.Count == 1 && ToCorpus(points[0].Payload) is { } corpus && corpus.TenantId == tenantId ? corpus : null;
    }

    public async Task<IReadOnlyList<CorpusInfo>> ListCorporaAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var corpora = new List<CorpusInfo>();
        PointId? offset = null;
        do
        {
            var page = await _client.ScrollAsync(Registry, MatchKeyword("tenant", tenantId), limit: 256, offset: offset, payloadSelector: true, cancellationToken: cancellationToken);
            corpora.AddRange(page.Result.Select(p => ToCorpus(p.Payload)!));
            offset = page.NextPageOffset;
        }
        while (offset is not null);

        return [.. corpora.OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.Id, StringComparer.Ordinal)];
    }

    public async Task<bool> DeleteCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        if (await GetCorpusAsync(tenantId, corpusId, cancellationToken) is null)
        {
            return false;
        }

        await _client.DeleteAsync(Registry, Guid.Parse(corpusId[3..]), cancellationToken: cancellationToken);
        await _client.DeleteCollectionAsync(Collection(corpusId), cancellationToken: cancellationToken);
        return true;
    }

    public async Task<CorpusInfo> AddDocumentsAsync(string tenantId, string corpusId, IReadOnlyList<IndexedDocument> documents, CancellationToken cancellationToken = default)
    {
        await _ingestion.WaitAsync(cancellationToken);
        try
        {
            var corpus = await GetCorpusAsync(tenantId, corpusId, cancellationToken) ?? throw new KeyNotFoundException($"Corpus {corpusId} does not exist.");
            var collection = Collection(corpusId);
            var ids = documents.Select(d => d.Id).ToList();
            var existing = await _client.CountAsync(collection, new Filter { Must = { new Condition { Field = new FieldCondition { Key = "document_id", Match = new Match { Keywords = new RepeatedStrings { Strings = { ids } } } } } } }, exact: true, cancellationToken: cancellationToken);
            if (existing > 0)
            {
                throw new ArgumentException($"A document id of this request is already in corpus {corpusId}.", nameof(documents));
            }

            var batch = Guid.NewGuid().ToString("N");
            var added = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var points = new List<PointStruct>();
            foreach (var document in documents)
            {
                foreach (var chunk in document.Chunks)
                {
                    if (chunk.Vector.Length != corpus.Dimensions)
                    {
                        throw new ArgumentException($"Chunk {chunk.Ordinal} of document '{document.Id}' has {chunk.Vector.Length} dimensions; corpus {corpusId} holds {corpus.Dimensions}.", nameof(documents));
                    }

                    var (values, indices) = Bm25SparseEncoder.Document(chunk.Text);
                    points.Add(new PointStruct
                    {
                        Id = Guid.NewGuid(),
                        Vectors = new Dictionary<string, Vector> { [Dense] = chunk.Vector.ToArray(), [Sparse] = (values, indices) },
                        Payload =
                        {
                            ["document_id"] = document.Id,
                            ["document_name"] = document.Name,
                            ["ordinal"] = chunk.Ordinal,
                            ["start"] = chunk.Start,
                            ["end"] = chunk.End,
                            ["tokens"] = chunk.Tokens,
                            ["text"] = chunk.Text,
                            ["added_at"] = added,
                            [Pending] = batch,
                        },
                    });
                }
            }

            try
            {
                foreach (var slice in points.Chunk(_options.UpsertBatch))
                {
                    await _client.UpsertAsync(collection, slice, wait: true, cancellationToken: cancellationToken);
                }

                await _client.DeletePayloadAsync(collection, [Pending], MatchKeyword(Pending, batch), wait: true, cancellationToken: cancellationToken);
            }
            catch
            {
                await _client.DeleteAsync(collection, MatchKeyword(Pending, batch), wait: true, cancellationToken: CancellationToken.None);
                throw;
            }

            var updated = corpus with
            {
                DocumentCount = corpus.DocumentCount + documents.Count,
                ChunkCount = corpus.ChunkCount + points.Count,
                TokenCount = corpus.TokenCount + documents.Sum(d => (long)d.Tokens),
                TextBytes = corpus.TextBytes + documents.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d.Text)),
            };
            await SaveAsync(updated, cancellationToken);
            return updated;
        }
        finally
        {
            _ingestion.Release();
        }
    }

    public async Task<IReadOnlyList<ScoredChunk>> SearchDenseAsync(string tenantId, string corpusId, ReadOnlyMemory<float> query, int limit, CancellationToken cancellationToken = default)
    {
        await RequireAsync(tenantId, corpusId, cancellationToken);
        var hits = await _client.QueryAsync(Collection(corpusId), query: query.ToArray(), usingVector: Dense, filter: Visible, limit: (ulong)limit, payloadSelector: true, cancellationToken: cancellationToken);
        return [.. hits.Select(h => new ScoredChunk(ToChunk(h.Id, h.Payload), h.Score))];
    }

    public async Task<IReadOnlyList<ScoredChunk>> SearchKeywordsAsync(string tenantId, string corpusId, string query, int limit, CancellationToken cancellationToken = default)
    {
        await RequireAsync(tenantId, corpusId, cancellationToken);
        var (values, indices) = Bm25SparseEncoder.Query(query);
        if (indices.Length == 0)
        {
            return [];
        }

        var hits = await _client.QueryAsync(Collection(corpusId), query: new VectorInput { Sparse = new SparseVector { Values = { values }, Indices = { indices } } }, usingVector: Sparse, filter: Visible, limit: (ulong)limit, payloadSelector: true, cancellationToken: cancellationToken);
        return [.. hits.Where(h => h.Score > 0).Select(h => new ScoredChunk(ToChunk(h.Id, h.Payload), h.Score))];
    }

    public async Task<IReadOnlyList<StoredChunk>> GetChunksAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        await RequireAsync(tenantId, corpusId, cancellationToken);
        var chunks = new List<(long Added, StoredChunk Chunk)>();
        PointId? offset = null;
        do
        {
            var page = await _client.ScrollAsync(Collection(corpusId), Visible, limit: 512, offset: offset, payloadSelector: true, cancellationToken: cancellationToken);
            chunks.AddRange(page.Result.Select(p => (p.Payload["added_at"].IntegerValue, ToChunk(p.Id, p.Payload))));
            offset = page.NextPageOffset;
        }
        while (offset is not null);

        return [.. chunks.OrderBy(c => c.Added).ThenBy(c => c.Chunk.DocumentId, StringComparer.Ordinal).ThenBy(c => c.Chunk.Ordinal).Select(c => c.Chunk)];
    }

    public void Dispose()
    {
        _client.Dispose();
        _ingestion.Dispose();
    }

    /// <summary>Points of an ingestion still being written carry the pending key; searches see only finished ones.</summary>
    private static Filter Visible => new() { Must = { IsEmpty(Pending) } };

    private string Collection(string corpusId) => _options.CollectionPrefix + corpusId;

    private async Task RequireAsync(string tenantId, string corpusId, CancellationToken cancellationToken)
    {
        if (await GetCorpusAsync(tenantId, corpusId, cancellationToken) is null)
        {
            throw new KeyNotFoundException($"Corpus {corpusId} does not exist.");
        }
    }

    private async Task SaveAsync(CorpusInfo corpus, CancellationToken cancellationToken) =>
        await _client.UpsertAsync(Registry, [new PointStruct
        {
            Id = Guid.Parse(corpus.Id[3..]),
            Vectors = RegistryVector,
            Payload =
            {
                ["id"] = corpus.Id,
                ["tenant"] = corpus.TenantId,
                ["name"] = corpus.Name,
                ["created_at"] = corpus.CreatedAt.ToUnixTimeMilliseconds(),
                ["tokenizer"] = corpus.Tokenizer,
                ["dimensions"] = corpus.Dimensions,
                ["documents"] = corpus.DocumentCount,
                ["chunks"] = corpus.ChunkCount,
                ["tokens"] = corpus.TokenCount,
                ["bytes"] = corpus.TextBytes,
            },
        }], wait: true, cancellationToken: cancellationToken);

    private static CorpusInfo? ToCorpus(Google.Protobuf.Collections.MapField<string, Value> p) =>
        p.TryGetValue("id", out var id)
            ? new CorpusInfo(id.StringValue, p["tenant"].StringValue, p["name"].StringValue, DateTimeOffset.FromUnixTimeMilliseconds(p["created_at"].IntegerValue), p["tokenizer"].StringValue,
                (int)p["dimensions"].IntegerValue, (int)p["documents"].IntegerValue, (int)p["chunks"].IntegerValue, p["tokens"].IntegerValue, p["bytes"].IntegerValue)
            : null;

    private static StoredChunk ToChunk(PointId id, Google.Protobuf.Collections.MapField<string, Value> p) => new(
        BitConverter.ToInt64(Guid.Parse(id.Uuid).ToByteArray(), 0),
        p["document_id"].StringValue,
        p["document_name"].StringValue,
        (int)p["ordinal"].IntegerValue,
        (int)p["start"].IntegerValue,
        (int)p["end"].IntegerValue,
        (int)p["tokens"].IntegerValue,
        p["text"].StringValue);

    private static bool TryGuid(string corpusId, out Guid guid)
    {
        guid = default;
        return corpusId.StartsWith("vs_", StringComparison.Ordinal) && Guid.TryParseExact(corpusId[3..], "N", out guid);
    }
}
