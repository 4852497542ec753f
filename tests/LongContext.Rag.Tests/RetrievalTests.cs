using LongContext.Rag.Chunking;
using LongContext.Rag.Corpora;
using LongContext.Rag.Embeddings;
using LongContext.Rag.Positioning;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores.Embedded;
using Xunit.Abstractions;

namespace LongContext.Rag.Tests;

[Collection(MiniLmCollectionDefinition.Name)]
public sealed class RetrievalTests(MiniLmFixture model, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-retrieval-").FullName;
    private EmbeddedVectorStore _store = null!;
    private string _corpus = "";

    public async Task InitializeAsync()
    {
        _store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = _directory });
        var corpus = await _store.CreateCorpusAsync("acme", "haystack", "o200k_base", MiniLmEmbeddingGenerator.Dimensions);
        _corpus = corpus.Id;

        // Ten filler documents with the facts and identifiers planted at random paragraphs.
        // A fixed haystack keeps the reported recall comparable between runs; the facts land at seeded random places.
        var random = new Random(20261201);
        var planted = Haystack.Facts.Select(f => f.Fact).Concat(Haystack.Identifiers.Select(f => f.Fact)).OrderBy(_ => random.Next()).ToList();
        var documents = new List<DocumentInput>();
        for (var d = 0; d < 10; d++)
        {
            var paragraphs = Haystack.Filler(random, 25).Split("\n\n").ToList();
            foreach (var fact in planted.Skip(d * 2).Take(2))
            {
                paragraphs.Insert(random.Next(paragraphs.Count + 1), fact);
            }

            documents.Add(new DocumentInput($"doc{d}", $"report-{d}.txt", string.Join("\n\n", paragraphs)));
        }

        await new CorpusIngestor(_store, model.Embeddings, new ChunkingOptions { ChunkTokens = 128, OverlapTokens = 16 }).IngestAsync("acme", _corpus, documents);
    }

    public Task DisposeAsync()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private HybridRetriever Retriever => new(_store, model.Embeddings, new RetrievalOptions { TopK = 10 });

    [Fact]
    public async Task PlantedFacts_AreFoundForParaphrasedQuestions()
    {
        var found = 0;
        foreach (var (fact, question) in Haystack.Facts)
        {
            var hits = await Retriever.RetrieveAsync("acme", _corpus, question, topK: 5);
            if (hits.Any(h => h.Chunk.Text.Contains(fact, StringComparison.Ordinal)))
            {
                found++;
            }
            else
            {
                output.WriteLine($"missed: {question}");
            }
        }

        var recall = found / (double)Haystack.Facts.Length;
        output.WriteLine($"hybrid recall@5 on {Haystack.Facts.Length} paraphrased questions: {recall:P0}");
        Assert.True(recall >= 0.9, $"recall@5 {recall:P0}");
    }

    [Fact]
    public async Task Identifiers_AreFoundByKeywords_AndHybridBeatsEachAlone()
    {
        var queries = Haystack.Facts.Concat(Haystack.Identifiers).ToList();
        var recall = new Dictionary<RetrievalMode, double>();
        foreach (var mode in Enum.GetValues<RetrievalMode>())
        {
            var found = 0;
            foreach (var (fact, question) in queries)
            {
                var hits = await Retriever.RetrieveAsync("acme", _corpus, question, mode, topK: 3);
                found += hits.Any(h => h.Chunk.Text.Contains(fact, StringComparison.Ordinal)) ? 1 : 0;
            }

            recall[mode] = found / (double)queries.Count;
        }

        var identifiersByKeywords = 0;
        foreach (var (fact, identifier) in Haystack.Identifiers)
        {
            var hits = await Retriever.RetrieveAsync("acme", _corpus, identifier, RetrievalMode.Keywords, topK: 1);
            identifiersByKeywords += hits.Count == 1 && hits[0].Chunk.Text.Contains(fact, StringComparison.Ordinal) ? 1 : 0;
        }

        output.WriteLine($"recall@3 on {queries.Count} mixed queries: hybrid {recall[RetrievalMode.Hybrid]:P0}, dense {recall[RetrievalMode.Dense]:P0}, keywords {recall[RetrievalMode.Keywords]:P0}");
        Assert.Equal(Haystack.Identifiers.Length, identifiersByKeywords);
        Assert.True(recall[RetrievalMode.Hybrid] > recall[RetrievalMode.Dense], "hybrid should beat dense alone");
        Assert.True(recall[RetrievalMode.Hybrid] > recall[RetrievalMode.Keywords], "hybrid should beat keywords alone");
    }

    [Fact]
    public async Task NamedIdentifier_ComesFirst_AmongManyLookAlikes()
    {
        // Forty vaults whose sentences differ only in the vault's number and code, each in filler of its own;
        // vault-7-1 must not be taken for vault-7-10 … vault-7-19.
        var random = new Random();
        var corpus = (await _store.CreateCorpusAsync("acme", "vaults", "o200k_base", MiniLmEmbeddingGenerator.Dimensions)).Id;
        var codes = Enumerable.Range(0, 40).Select(_ => random.Next(100_000, 999_999)).ToArray();
        var paragraphs = codes.Select((code, i) => Haystack.Filler(random, 2) + $"\n\nThe access code for vault-7-{i} is {code}.\n\n" + Haystack.Filler(random, 2));
        await new CorpusIngestor(_store, model.Embeddings, new ChunkingOptions { ChunkTokens = 128, OverlapTokens = 0 })
            .IngestAsync("acme", corpus, [new DocumentInput("vaults", "vaults.txt", string.Join("\n\n", paragraphs))]);

        var first = 0;
        for (var i = 0; i < codes.Length; i++)
        {
            var hits = await Retriever.RetrieveAsync("acme", corpus, $"What is the access code for vault-7-{i}?", topK: 3);
            first += hits[0].Chunk.Text.Contains($"vault-7-{i} is {codes[i]}.", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.Equal(codes.Length, first);
    }

    [Theory]
    [InlineData("What is the access code for vault-7-1?", "vault-7-1")]
    [InlineData("Is invoice INV-2024-0071 paid, and what about QX7731?", "INV-2024-0071,QX7731")]
    [InlineData("What changed in v2.1.3.", "v2.1.3")]
    [InlineData("What happened in 2024 to the blue whale?", "")]
    public void Identifiers_AreJoinedRunsWithDigits(string query, string expected) =>
        Assert.Equal(expected, string.Join(",", KeywordQuery.Identifiers(query)));

    [Theory]
    [InlineData("The access code for vault-7-1 is 4.", true)]
    [InlineData("The access code for VAULT-7-1.", true)]
    [InlineData("The access code for vault-7-10 is 4.", false)]
    [InlineData("The access code for vault-7-1-b is 4.", false)]
    [InlineData("The access code for xvault-7-1 is 4.", false)]
    public void ContainsAny_MatchesWholeIdentifiersOnly(string text, bool expected) =>
        Assert.Equal(expected, KeywordQuery.ContainsAny(text, ["vault-7-1"]));

    [Fact]
    public async Task Positioning_PutsTheTopChunksAtBothEnds()
    {
        var hits = await Retriever.RetrieveAsync("acme", _corpus, Haystack.Facts[3].Question, topK: 8);

        var positioned = EdgePositioner.Position(hits, h => h.Chunk.Tokens);

        Assert.Equal(1, positioned[0].Rank);
        Assert.Equal(2, positioned[^1].Rank);
        Assert.Equal(3, positioned[1].Rank);
        Assert.Equal(4, positioned[^2].Rank);
        Assert.True(positioned[0].Depth < 0.15 && positioned[^1].Depth > 0.85);
        var middle = positioned.OrderBy(p => Math.Abs(p.Depth - 0.5)).First();
        Assert.True(middle.Rank >= 7, $"the middle holds rank {middle.Rank}");

        var corpus = await _store.GetChunksAsync("acme", _corpus);
        var whole = EdgePositioner.PositionCorpus(corpus, [.. hits.Take(2).Select(h => h.Chunk)], c => c.Tokens, new KeyComparer());
        Assert.Equal(corpus.Count, whole.Count);
        Assert.Equal(hits[0].Chunk.Key, whole[0].Chunk.Key);
        Assert.Equal(hits[1].Chunk.Key, whole[^1].Chunk.Key);
    }

    [Fact]
    public async Task Mmr_KeepsNearDuplicatesFromCrowdingTheTop()
    {
        var plain = await Retriever.RetrieveAsync("acme", _corpus, "the committee reviewed the annual budget", topK: 5);
        var diverse = await new HybridRetriever(_store, model.Embeddings, new RetrievalOptions { TopK = 5, UseMmr = true, MmrLambda = 0.5 })
            .RetrieveAsync("acme", _corpus, "the committee reviewed the annual budget", topK: 5);

        Assert.Equal(5, diverse.Count);
        Assert.Equal(plain[0].Chunk.Key, diverse[0].Chunk.Key);
        Assert.Equal(5, diverse.Select(d => d.Chunk.Key).Distinct().Count());
    }

    private sealed class KeyComparer : IEqualityComparer<LongContext.Rag.VectorStores.StoredChunk>
    {
        public bool Equals(LongContext.Rag.VectorStores.StoredChunk? x, LongContext.Rag.VectorStores.StoredChunk? y) => x?.Key == y?.Key;

        public int GetHashCode(LongContext.Rag.VectorStores.StoredChunk obj) => obj.Key.GetHashCode();
    }
}
