using LongContext.Rag.Chunking;
using LongContext.Rag.Corpora;
using LongContext.Rag.Embeddings;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores.Qdrant;
using Microsoft.Extensions.AI;

namespace LongContext.Rag.Tests.Qdrant;

/// <summary>What the Qdrant store must do, whichever server answers it.</summary>
public abstract class QdrantStoreScenarios(MiniLmFixture model)
{
    protected abstract Task<QdrantVectorStore> OpenAsync();

    private CorpusIngestor Ingestor(QdrantVectorStore store, IEmbeddingGenerator<string, Embedding<float>>? embeddings = null) =>
        new(store, embeddings ?? model.Embeddings, new ChunkingOptions { ChunkTokens = 96, OverlapTokens = 16 }, embeddingBatch: 8);

    protected async Task DenseAndKeywordSearch_FindPlantedFacts()
    {
        using var store = await OpenAsync();
        var corpus = await store.CreateCorpusAsync("acme", "haystack", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        var random = new Random(5);
        var documents = Enumerable.Range(0, 4).Select(d => new DocumentInput($"d{d}", $"d{d}.txt", Haystack.Filler(random, 12) + "\n\n" + Haystack.Facts[d].Fact + "\n\n" + Haystack.Identifiers[d].Fact)).ToList();
        await Ingestor(store).IngestAsync("acme", corpus.Id, documents);
        var retriever = new HybridRetriever(store, model.Embeddings, new RetrievalOptions { TopK = 3 });

        for (var d = 0; d < 4; d++)
        {
            // Dense path: the fact's own words, reworded slightly, must bring its chunk first.
            var dense = await retriever.RetrieveAsync("acme", corpus.Id, "Tell me: " + Haystack.Facts[d].Fact.ToLowerInvariant(), RetrievalMode.Dense, topK: 1);
            var keywords = await retriever.RetrieveAsync("acme", corpus.Id, Haystack.Identifiers[d].Question, RetrievalMode.Keywords, topK: 1);
            Assert.Contains(Haystack.Facts[d].Fact, Assert.Single(dense).Chunk.Text, StringComparison.Ordinal);
            Assert.Contains(Haystack.Identifiers[d].Fact, Assert.Single(keywords).Chunk.Text, StringComparison.Ordinal);
        }

        var info = await store.GetCorpusAsync("acme", corpus.Id);
        var chunks = await store.GetChunksAsync("acme", corpus.Id);
        Assert.Equal((4, chunks.Count), (info!.DocumentCount, info.ChunkCount));
        Assert.Equal(chunks.OrderBy(c => c.DocumentId, StringComparer.Ordinal).ThenBy(c => c.Ordinal).Select(c => c.Key), chunks.Select(c => c.Key));
        Assert.True(await store.DeleteCorpusAsync("acme", corpus.Id));
    }

    protected async Task FailedIngestion_LeavesNoPartialCorpus()
    {
        using var store = await OpenAsync();
        var corpus = await store.CreateCorpusAsync("acme", "atomic", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor(store).IngestAsync("acme", corpus.Id, [new DocumentInput("first", null, "The first document is here to stay.")]);

        // The store itself fails midway: its second upsert batch carries a vector of the wrong size.
        var good = (await model.Embeddings.GenerateAsync(["x"]))[0].Vector;
        var chunks = Enumerable.Range(0, 300).Select(i => new LongContext.Rag.VectorStores.IndexedChunk(i, i, i + 1, 1, $"committee word {i}", i == 299 ? new float[3] : good)).ToList();
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddDocumentsAsync("acme", corpus.Id, [new LongContext.Rag.VectorStores.IndexedDocument("second", "second", "text", 300, chunks)]));
        await Assert.ThrowsAsync<ArgumentException>(() => Ingestor(store).IngestAsync("acme", corpus.Id, [new DocumentInput("first", null, "Same id as a stored one.")]));

        var after = await store.GetCorpusAsync("acme", corpus.Id);
        Assert.Equal((1, 1), (after!.DocumentCount, after.ChunkCount));
        Assert.Equal("first", Assert.Single(await store.GetChunksAsync("acme", corpus.Id)).DocumentId);
        Assert.Empty(await store.SearchKeywordsAsync("acme", corpus.Id, "committee word", 10));
        await store.DeleteCorpusAsync("acme", corpus.Id);
    }

    protected async Task AnotherTenantsCorpus_DoesNotExistForIt()
    {
        using var store = await OpenAsync();
        var corpus = await store.CreateCorpusAsync("acme", "secret", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        await Ingestor(store).IngestAsync("acme", corpus.Id, [new DocumentInput("s", null, "The vault code is 4711.")]);

        Assert.Null(await store.GetCorpusAsync("globex", corpus.Id));
        Assert.DoesNotContain(await store.ListCorporaAsync("globex"), c => c.Id == corpus.Id);
        Assert.Contains(await store.ListCorporaAsync("acme"), c => c.Id == corpus.Id);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => store.SearchKeywordsAsync("globex", corpus.Id, "vault", 5));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Ingestor(store).IngestAsync("globex", corpus.Id, [new DocumentInput(null, null, "sneaky")]));
        Assert.False(await store.DeleteCorpusAsync("globex", corpus.Id));
        Assert.True(await store.DeleteCorpusAsync("acme", corpus.Id));
        Assert.Null(await store.GetCorpusAsync("acme", corpus.Id));
    }
}

/// <summary>The Qdrant store against the protocol fixture (Qdrant's gRPC messages on a local server).</summary>
[Collection(MiniLmCollectionDefinition.Name)]
public sealed class QdrantFixtureStoreTests(MiniLmFixture model) : QdrantStoreScenarios(model), IAsyncLifetime
{
    private QdrantProtocolFixture _server = null!;

    public async Task InitializeAsync() => _server = await QdrantProtocolFixture.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    protected override Task<QdrantVectorStore> OpenAsync() => QdrantVectorStore.OpenAsync(new QdrantStoreOptions { Address = _server.Address, UpsertBatch = 128 });

    [Fact]
    public Task Search_FindsPlantedFacts() => DenseAndKeywordSearch_FindPlantedFacts();

    [Fact]
    public Task Ingestion_IsAllOrNothing() => FailedIngestion_LeavesNoPartialCorpus();

    [Fact]
    public Task Tenants_AreIsolated() => AnotherTenantsCorpus_DoesNotExistForIt();
}

/// <summary>The same scenarios against a real Qdrant server, when QDRANT_URL (its gRPC address, e.g. http://127.0.0.1:6334) is set.</summary>
[Collection(MiniLmCollectionDefinition.Name)]
public sealed class RealQdrantStoreTests(MiniLmFixture model) : QdrantStoreScenarios(model)
{
    private readonly string _prefix = $"lcgtest_{Guid.NewGuid():N}_";

    protected override Task<QdrantVectorStore> OpenAsync() =>
        QdrantVectorStore.OpenAsync(new QdrantStoreOptions { Address = new Uri(Environment.GetEnvironmentVariable("QDRANT_URL")!), ApiKey = Environment.GetEnvironmentVariable("QDRANT_API_KEY"), CollectionPrefix = _prefix, UpsertBatch = 128 });

    [QdrantFact]
    public Task Search_FindsPlantedFacts() => DenseAndKeywordSearch_FindPlantedFacts();

    [QdrantFact]
    public Task Ingestion_IsAllOrNothing() => FailedIngestion_LeavesNoPartialCorpus();

    [QdrantFact]
    public Task Tenants_AreIsolated() => AnotherTenantsCorpus_DoesNotExistForIt();
}

/// <summary>Runs only where a real Qdrant is reachable; reported as skipped, with the reason, elsewhere.</summary>
public sealed class QdrantFactAttribute : FactAttribute
{
    public QdrantFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("QDRANT_URL")))
        {
            Skip = "QDRANT_URL is not set: no Qdrant server to test against on this machine";
        }
    }
}
