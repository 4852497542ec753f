using LongContext.Rag.Chunking;
using LongContext.Rag.Corpora;
using LongContext.Rag.Embeddings;
using LongContext.Rag.VectorStores.Embedded;
using Microsoft.Extensions.AI;

namespace LongContext.Rag.Tests;

/// <summary>One MiniLM model for the whole test run: loading it is the slow part.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbeddingGenerator Embeddings { get; } = new(batchSize: 64);

    public void Dispose() => Embeddings.Dispose();
}

[CollectionDefinition(Name)]
public sealed class MiniLmCollectionDefinition : ICollectionFixture<MiniLmFixture>
{
    public const string Name = "minilm";
}

[Collection(MiniLmCollectionDefinition.Name)]
public sealed class EmbeddedStoreTests(MiniLmFixture model) : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-rag-").FullName;
    private EmbeddedVectorStore _store = null!;

    public async Task InitializeAsync() => _store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = _directory, ExactSearchBelow = 20 });

    public Task DisposeAsync()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private CorpusIngestor Ingestor(IEmbeddingGenerator<string, Embedding<float>>? embeddings = null) =>
        new(_store, embeddings ?? model.Embeddings, new ChunkingOptions { ChunkTokens = 96, OverlapTokens = 16 });

    [Fact]
    public async Task Restart_LosesNothing_AndRebuildsAMissingAnnIndex()
    {
        var corpus = await _store.CreateCorpusAsync("acme", "notes", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", corpus.Id, [new DocumentInput("a", "a.txt", Haystack.Filler(new Random(1), 40) + "\n\n" + Haystack.Facts[0].Fact)]);
        var query = (await model.Embeddings.GenerateAsync([Haystack.Facts[0].Question]))[0].Vector;
        var before = await _store.SearchDenseAsync("acme", corpus.Id, query, 5);
        _store.Dispose();

        // Above ExactSearchBelow the store searches an HNSW index file; delete it to prove it is derived data.
        File.Delete(Path.Combine(_directory, "indexes", corpus.Id + ".usearch"));
        _store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = _directory, ExactSearchBelow = 20 });
        var reopened = await _store.GetCorpusAsync("acme", corpus.Id);
        var after = await _store.SearchDenseAsync("acme", corpus.Id, query, 5);

        Assert.Equal(corpus.Id, reopened!.Id);
        Assert.True(reopened.ChunkCount > 20, $"{reopened.ChunkCount} chunks: the ANN path is not exercised");
        Assert.Equal(before.Select(h => h.Chunk.Key), after.Select(h => h.Chunk.Key));
        Assert.Contains("Marrow Island", after[0].Chunk.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailedIngestion_LeavesNoPartialCorpus()
    {
        var corpus = await _store.CreateCorpusAsync("acme", "notes", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", corpus.Id, [new DocumentInput("first", null, "The first document is here to stay.")]);
        var failing = new FailingAfter(model.Embeddings, calls: 1);

        await Assert.ThrowsAsync<InvalidOperationException>(() => new CorpusIngestor(_store, failing, new ChunkingOptions { ChunkTokens = 32, OverlapTokens = 0 }, embeddingBatch: 4)
            .IngestAsync("acme", corpus.Id, [new DocumentInput("second", null, Haystack.Filler(new Random(2), 20))]));
        await Assert.ThrowsAsync<ArgumentException>(() => Ingestor().IngestAsync("acme", corpus.Id, [new DocumentInput("third", null, "Fine text."), new DocumentInput("first", null, "Same id as a stored one.")]));

        var after = await _store.GetCorpusAsync("acme", corpus.Id);
        Assert.Equal((1, 1), (after!.DocumentCount, after.ChunkCount));
        var chunks = await _store.GetChunksAsync("acme", corpus.Id);
        Assert.Equal("first", Assert.Single(chunks).DocumentId);
        Assert.Empty(await _store.SearchKeywordsAsync("acme", corpus.Id, "committee fine", 10));
    }

    [Fact]
    public async Task AnotherTenantsCorpus_DoesNotExistForYou()
    {
        var corpus = await _store.CreateCorpusAsync("acme", "secret", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", corpus.Id, [new DocumentInput("s", null, "The vault code is 4711.")]);

        Assert.Null(await _store.GetCorpusAsync("globex", corpus.Id));
        Assert.Empty(await _store.ListCorporaAsync("globex"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => _store.SearchKeywordsAsync("globex", corpus.Id, "vault", 5));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => _store.GetChunksAsync("globex", corpus.Id));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Ingestor().IngestAsync("globex", corpus.Id, [new DocumentInput(null, null, "sneaky")]));
        Assert.False(await _store.DeleteCorpusAsync("globex", corpus.Id));
        Assert.NotNull(await _store.GetCorpusAsync("acme", corpus.Id));
        Assert.True(await _store.DeleteCorpusAsync("acme", corpus.Id));
        Assert.Null(await _store.GetCorpusAsync("acme", corpus.Id));
    }

    [Fact]
    public async Task HnswIndex_AgreesWithExactSearch()
    {
        var corpus = await _store.CreateCorpusAsync("acme", "big", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", corpus.Id, [.. Enumerable.Range(0, 6).Select(i => new DocumentInput($"d{i}", null, Haystack.Filler(new Random(100 + i), 15)))]);
        var queries = await model.Embeddings.GenerateAsync(Haystack.Facts.Select(f => f.Question));
        using var exactStore = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = _directory, ExactSearchBelow = int.MaxValue });

        var overlap = 0.0;
        foreach (var query in queries)
        {
            var ann = await _store.SearchDenseAsync("acme", corpus.Id, query.Vector, 10);
            var exact = await exactStore.SearchDenseAsync("acme", corpus.Id, query.Vector, 10);
            overlap += ann.Select(h => h.Chunk.Key).Intersect(exact.Select(h => h.Chunk.Key)).Count() / 10.0;
        }

        Assert.True(overlap / queries.Count >= 0.95, $"recall@10 against exact search {overlap / queries.Count:P0}");
    }

    [Fact]
    public async Task KeywordSearch_StaysInsideItsCorpus_AndDeletingOneLeavesTheOther()
    {
        var first = await _store.CreateCorpusAsync("acme", "first", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        var second = await _store.CreateCorpusAsync("acme", "second", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", first.Id, [new DocumentInput("f", null, "Invoice QX-77 was paid by the harbour office.")]);
        await Ingestor().IngestAsync("acme", second.Id, [new DocumentInput("s", null, "Invoice ZB-12 is still open at the harbour office.")]);

        Assert.Contains("QX-77", Assert.Single(await _store.SearchKeywordsAsync("acme", first.Id, "QX-77 invoice", 10)).Chunk.Text, StringComparison.Ordinal);
        Assert.Empty(await _store.SearchKeywordsAsync("acme", second.Id, "QX", 10));
        Assert.True(await _store.DeleteCorpusAsync("acme", first.Id));

        Assert.Contains("ZB-12", Assert.Single(await _store.SearchKeywordsAsync("acme", second.Id, "harbour invoice", 10)).Chunk.Text, StringComparison.Ordinal);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => _store.SearchKeywordsAsync("acme", first.Id, "QX", 10));
    }

    [Fact]
    public async Task StoreWithOneSharedKeywordIndex_IsMigratedToOnePerCorpus()
    {
        var first = await _store.CreateCorpusAsync("acme", "first", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        var second = await _store.CreateCorpusAsync("globex", "second", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor().IngestAsync("acme", first.Id, [new DocumentInput("f", null, "The lighthouse keeper logs code AX-1 every night.")]);
        await Ingestor().IngestAsync("globex", second.Id, [new DocumentInput("s", null, "The lighthouse keeper logs code BY-2 every night.")]);
        _store.Dispose();

        // The earlier layout: one FTS5 table for every corpus, the corpus in an unindexed column.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "rag.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                DROP TABLE fts_{first.Id[3..]}_vocab; DROP TABLE fts_{first.Id[3..]}; DROP TABLE fts_{second.Id[3..]}_vocab; DROP TABLE fts_{second.Id[3..]};
                CREATE VIRTUAL TABLE chunks_fts USING fts5 (text, corpus_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
                CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab (chunks_fts, 'row');
                INSERT INTO chunks_fts (rowid, text, corpus_id) SELECT key, text, corpus_id FROM chunks;
                """;
            await command.ExecuteNonQueryAsync();
        }

        _store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = _directory, ExactSearchBelow = 20 });

        Assert.Contains("AX-1", Assert.Single(await _store.SearchKeywordsAsync("acme", first.Id, "lighthouse keeper", 10)).Chunk.Text, StringComparison.Ordinal);
        Assert.Contains("BY-2", Assert.Single(await _store.SearchKeywordsAsync("globex", second.Id, "lighthouse keeper", 10)).Chunk.Text, StringComparison.Ordinal);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "rag.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('chunks_fts', 'chunks_vocab')";
            Assert.Equal(0L, await command.ExecuteScalarAsync());
        }
    }

    /// <summary>An embedding model that breaks after some calls, as a remote one might mid-ingestion.</summary>
    private sealed class FailingAfter(IEmbeddingGenerator<string, Embedding<float>> inner, int calls) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        private int _calls;

        public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            ++_calls > calls ? throw new InvalidOperationException("embedding service went away") : base.GenerateAsync(values, options, cancellationToken);
    }
}
