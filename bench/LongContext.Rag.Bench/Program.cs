// The RAG pipeline's speed: ingestion throughput beside the embedding model's own batch rate,
// and retrieval latency (p50/p99) and recall@10 against exact search at 10K and 100K chunks.
// Run in Release: dotnet run -c Release --project bench/LongContext.Rag.Bench [-- --chunks 10000,100000 [--skip-ingestion]]
using System.Diagnostics;
using System.Runtime.InteropServices;
using LongContext.Rag.Chunking;
using LongContext.Rag.Corpora;
using LongContext.Rag.Embeddings;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores;
using LongContext.Rag.VectorStores.Embedded;
using LongContext.Routing.Tokens;
using Microsoft.Extensions.AI;

var sizes = args is ["--chunks", var list, ..] ? list.Split(',').Select(int.Parse).ToArray() : [10_000, 100_000];
var skipIngestion = args.Contains("--skip-ingestion");
var root = Directory.CreateTempSubdirectory("lcg-rag-bench-").FullName;
using var model = new MiniLmEmbeddingGenerator(batchSize: 64);
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; {DateTime.UtcNow:yyyy-MM-dd}");

// 1. Ingestion against the model's own rate, on the same chunk texts.
var random = new Random(42);
var documents = Enumerable.Range(0, 40).Select(d => new DocumentInput($"d{d}", $"doc-{d}.txt", Filler(random, 30))).ToList();
var chunking = new ChunkingOptions { ChunkTokens = 200, OverlapTokens = 32 };
var chunker = new TextChunker(TokenCounters.Shared.Get(TokenCounters.O200kBase), chunking);
var texts = documents.SelectMany(d => chunker.Chunk(d.Text)).Select(c => c.Text).ToList();
await model.GenerateAsync(texts.Take(64)); // warm-up: load the ONNX session

var modelRates = new List<double>();
var ingestRates = new List<double>();
for (var round = 0; round < (skipIngestion ? 0 : 3); round++)
{
    var watch = Stopwatch.StartNew();
    for (var i = 0; i < texts.Count; i += 64)
    {
        await model.GenerateAsync(texts.Skip(i).Take(64));
    }

    modelRates.Add(texts.Count / watch.Elapsed.TotalSeconds);

    using var store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = Path.Combine(root, $"ingest-{round}") });
    var corpus = await store.CreateCorpusAsync("bench", "ingest", TokenCounters.O200kBase, MiniLmEmbeddingGenerator.Dimensions);
    watch.Restart();
    var result = await new CorpusIngestor(store, model, chunking).IngestAsync("bench", corpus.Id, documents);
    ingestRates.Add(result.ChunkCount / watch.Elapsed.TotalSeconds);
}

if (!skipIngestion)
{
    Console.WriteLine($"ingestion: {texts.Count} chunks of <= 200 tokens; model alone {Median(modelRates):0} chunks/s, ingestion (chunk + embed + store) {Median(ingestRates):0} chunks/s = {Median(ingestRates) / Median(modelRates):P0} of the model's rate (medians of 3)");
}

// 2. Retrieval on synthetic clustered unit vectors (what the index sees is vectors, however they were made).
// Chunk text for keyword search: words drawn Zipf-like from a 20,000-word vocabulary, like prose; questions use a chunk's words.
var vocabulary = Enumerable.Range(0, 20_000).Select(i => Word(i)).ToArray();
var zipf = Enumerable.Range(1, vocabulary.Length).Select(r => 1.0 / r).ToArray();
var cumulative = new double[zipf.Length];
for (var i = 0; i < zipf.Length; i++)
{
    cumulative[i] = (i == 0 ? 0 : cumulative[i - 1]) + zipf[i];
}

string Words(int count) => string.Join(' ', Enumerable.Range(0, count).Select(_ =>
{
    var target = random.NextDouble() * cumulative[^1];
    var index = Array.BinarySearch(cumulative, target);
    return vocabulary[index < 0 ? ~index : index];
}));

foreach (var size in sizes)
{
    var directory = Path.Combine(root, $"search-{size}");
    using var store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = directory });
    var corpus = await store.CreateCorpusAsync("bench", $"n{size}", TokenCounters.O200kBase, MiniLmEmbeddingGenerator.Dimensions);
    var centres = Enumerable.Range(0, 200).Select(_ => Unit(Gaussian(random, 384))).ToList();
    var vectors = new List<float[]>(size);
    for (var i = 0; i < size; i++)
    {
        var centre = centres[random.Next(centres.Count)];
        vectors.Add(Unit([.. centre.Zip(Gaussian(random, 384), (c, g) => c + 0.35f * g / MathF.Sqrt(384))]));
    }

    var batch = new List<IndexedDocument>();
    for (var d = 0; d < size / 100; d++)
    {
        var chunks = Enumerable.Range(0, 100).Select(o => new IndexedChunk(o, o * 100, o * 100 + 99, 150, Words(150), vectors[d * 100 + o])).ToList();
        batch.Add(new IndexedDocument($"d{d}", $"d{d}", "", 2000, chunks));
    }

    var build = Stopwatch.StartNew();
    await store.AddDocumentsAsync("bench", corpus.Id, batch);
    var queries = Enumerable.Range(0, 200).Select(_ => Unit([.. vectors[random.Next(size)].Zip(Gaussian(random, 384), (v, g) => v + 0.5f * g / MathF.Sqrt(384))])).ToList();
    await store.SearchDenseAsync("bench", corpus.Id, queries[0], 10); // loads vectors, builds or loads the HNSW index
    var buildSeconds = build.Elapsed.TotalSeconds;

    using var exact = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = directory, ExactSearchBelow = int.MaxValue });
    using var ann = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = directory, ExactSearchBelow = 0 });
    await exact.SearchDenseAsync("bench", corpus.Id, queries[0], 10);
    await ann.SearchDenseAsync("bench", corpus.Id, queries[0], 10);

    var (exactTimes, annTimes, recall) = (new List<double>(), new List<double>(), 0.0);
    foreach (var query in queries)
    {
        var watch = Stopwatch.StartNew();
        var truth = await exact.SearchDenseAsync("bench", corpus.Id, query, 10);
        exactTimes.Add(watch.Elapsed.TotalMilliseconds);
        watch.Restart();
        var found = await ann.SearchDenseAsync("bench", corpus.Id, query, 10);
        annTimes.Add(watch.Elapsed.TotalMilliseconds);
        recall += found.Select(h => h.Chunk.Key).Intersect(truth.Select(h => h.Chunk.Key)).Count() / 10.0;
    }

    string Question() => "what about " + string.Join(' ', Words(40).Split(' ').Distinct().TakeLast(4)) + "?";
    var queryTexts = Enumerable.Range(0, 100).Select(_ => Question()).ToList();
    var retriever = new HybridRetriever(store, model, new RetrievalOptions { TopK = 8 });
    foreach (var warmUp in Enumerable.Range(0, 20).Select(_ => Question()))
    {
        await retriever.RetrieveAsync("bench", corpus.Id, warmUp);
    }

    // Each question through each step, the order rotating, so that no step always runs on caches the previous one warmed.
    // The store's side of hybrid retrieval alone: the same questions with their vectors computed beforehand.
    var embedded = new Dictionary<string, Embedding<float>>();
    foreach (var text in queryTexts)
    {
        embedded[text] = (await model.GenerateAsync([text]))[0];
    }

    var storeSide = new HybridRetriever(store, new PrecomputedEmbeddings(embedded), new RetrievalOptions { TopK = 8 });
    var (embedTimes, keywordTimes, hybridTimes, storeTimes) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
    var steps = new (List<double> Times, Func<string, Task> Run)[]
    {
        (embedTimes, text => model.GenerateAsync([text])),
        (keywordTimes, text => store.SearchKeywordsAsync("bench", corpus.Id, text, 50)),
        (hybridTimes, text => retriever.RetrieveAsync("bench", corpus.Id, text)),
        (storeTimes, text => storeSide.RetrieveAsync("bench", corpus.Id, text)),
    };
    for (var q = 0; q < queryTexts.Count; q++)
    {
        for (var s = 0; s < steps.Length; s++)
        {
            var step = steps[(q + s) % steps.Length];
            var watch = Stopwatch.StartNew();
            await step.Run(queryTexts[q]);
            step.Times.Add(watch.Elapsed.TotalMilliseconds);
        }
    }

    Console.WriteLine($"{size:N0} chunks (store + index ready in {buildSeconds:0.0} s): dense HNSW p50 {P(annTimes, 50):0.00} ms p99 {P(annTimes, 99):0.00} ms, recall@10 vs exact {recall / queries.Count:0.000}; " +
        $"exact p50 {P(exactTimes, 50):0.00} ms p99 {P(exactTimes, 99):0.00} ms; BM25 top-50 p50 {P(keywordTimes, 50):0.00} ms p99 {P(keywordTimes, 99):0.00} ms; " +
        $"question embedding p50 {P(embedTimes, 50):0.00} ms; hybrid, question vector given (dense + BM25 + fusion) p50 {P(storeTimes, 50):0.00} ms p99 {P(storeTimes, 99):0.00} ms; " +
        $"hybrid end to end (embed question + dense + BM25 + fusion) p50 {P(hybridTimes, 50):0.00} ms p99 {P(hybridTimes, 99):0.00} ms");
}

Directory.Delete(root, recursive: true);

static string Word(int i)
{
    const string letters = "etaoinshrdlucmfwypvbgkqjxz";
    var chars = new List<char>();
    var n = i + 27;
    while (n > 0)
    {
        chars.Add(letters[n % letters.Length]);
        n /= letters.Length;
    }

    return new string([.. chars]);
}

static double Median(List<double> values) => P(values, 50);

static double P(List<double> values, int percentile)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static float[] Gaussian(Random random, int n) =>
    [.. Enumerable.Range(0, n).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))];

static float[] Unit(float[] v)
{
    var norm = MathF.Sqrt(v.Sum(x => x * x));
    return [.. v.Select(x => x / norm)];
}

static string Filler(Random random, int paragraphs)
{
    string[] subjects = ["The committee", "Our team", "The council", "The lab", "A bakery", "The museum"];
    string[] verbs = ["reviewed", "discussed", "postponed", "approved", "questioned", "funded"];
    string[] objects = ["the annual budget", "a parking policy", "the spring festival", "the library wing", "a volunteer plan", "the recycling scheme"];
    var text = new System.Text.StringBuilder();
    for (var p = 0; p < paragraphs; p++)
    {
        for (var s = 0; s < 6; s++)
        {
            text.Append(subjects[random.Next(subjects.Length)]).Append(' ').Append(verbs[random.Next(verbs.Length)]).Append(' ').Append(objects[random.Next(objects.Length)]).Append(" after a long meeting. ");
        }

        text.Append("\n\n");
    }

    return text.ToString();
}

/// <summary>Serves vectors computed beforehand, so that a run times the store without the model.</summary>
internal sealed class PrecomputedEmbeddings(Dictionary<string, Embedding<float>> vectors) : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => vectors[v])));

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
