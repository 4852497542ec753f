using System.Text.Json;
using LongContext.Rag.Chunking;
using LongContext.Rag.VectorStores;
using LongContext.Routing.Tokens;
using Microsoft.Extensions.AI;

namespace LongContext.Rag.Corpora;

/// <summary>A document as a client sends it; id and name are made up when missing.</summary>
public sealed record DocumentInput(string? Id, string? Name, string Text);

/// <summary>Where an ingestion stands: chunking, then embedding (the long part), then storing.</summary>
public sealed record IngestionProgress(string Stage, int Documents, int ChunksDone, int Chunks);

/// <summary>A request the ingestor refuses, naming what is wrong (a JSONL line, an empty document).</summary>
public sealed class DocumentFormatException(string message) : Exception(message);

/// <summary>
/// Chunks documents with the corpus's tokenizer, embeds the chunks in batches, and stores
/// everything in one step: a failure anywhere (bad input, the embedding model, the store) leaves
/// the corpus as it was.
/// </summary>
public sealed class CorpusIngestor(IVectorStore store, IEmbeddingGenerator<string, Embedding<float>> embedder, ChunkingOptions chunking, int embeddingBatch = 64)
{
    public async Task<CorpusInfo> IngestAsync(string tenantId, string corpusId, IReadOnlyList<DocumentInput> documents, IProgress<IngestionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var corpus = await store.GetCorpusAsync(tenantId, corpusId, cancellationToken) ?? throw new KeyNotFoundException($"Corpus {corpusId} does not exist.");
        var chunker = new TextChunker(TokenCounters.Shared.Get(corpus.Tokenizer), chunking);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var cut = new List<(string Id, string Name, string Text, IReadOnlyList<TextChunk> Chunks)>(documents.Count);
        for (var i = 0; i < documents.Count; i++)
        {
            var document = documents[i];
            if (string.IsNullOrWhiteSpace(document.Text))
            {
                throw new DocumentFormatException($"documents[{i}] has no text.");
            }

            var id = string.IsNullOrWhiteSpace(document.Id) ? "doc_" + Guid.CreateVersion7().ToString("N") : document.Id;
            if (!ids.Add(id))
            {
                throw new DocumentFormatException($"documents[{i}] repeats the id '{id}'.");
            }

            cut.Add((id, string.IsNullOrWhiteSpace(document.Name) ? id : document.Name, document.Text, chunker.Chunk(document.Text)));
        }

        var all = cut.SelectMany(d => d.Chunks).ToList();
        progress?.Report(new IngestionProgress("chunked", documents.Count, 0, all.Count));
        var vectors = new List<ReadOnlyMemory<float>>(all.Count);
        for (var start = 0; start < all.Count; start += embeddingBatch)
        {
            var batch = all.Skip(start).Take(embeddingBatch).Select(c => c.Text).ToList();
            var embedded = await embedder.GenerateAsync(batch, cancellationToken: cancellationToken);
            if (embedded.Count != batch.Count)
            {
                throw new InvalidOperationException($"The embedding model returned {embedded.Count} vectors for {batch.Count} chunks.");
            }

            vectors.AddRange(embedded.Select(e => Embeddings.VectorMath.Normalize(e.Vector)));
            progress?.Report(new IngestionProgress("embedding", documents.Count, vectors.Count, all.Count));
        }

        var next = 0;
        var indexed = cut.Select(d => new IndexedDocument(d.Id, d.Name, d.Text, chunker.Counter.Count(d.Text), [.. d.Chunks.Select(c => new IndexedChunk(c.Ordinal, c.Start, c.End, c.Tokens, c.Text, vectors[next++]))])).ToList();
        var result = await store.AddDocumentsAsync(tenantId, corpusId, indexed, cancellationToken);
        progress?.Report(new IngestionProgress("stored", documents.Count, all.Count, all.Count));
        return result;
    }

    /// <summary>One JSON object per line with "text" and optionally "id" and "name"; blank lines are skipped.</summary>
    public static List<DocumentInput> ParseJsonLines(TextReader reader)
    {
        var documents = new List<DocumentInput>();
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    throw new DocumentFormatException($"line {number}: expected an object with a string \"text\".");
                }

                documents.Add(new DocumentInput(Optional(root, "id"), Optional(root, "name"), text.GetString()!));
            }
            catch (JsonException e)
            {
                throw new DocumentFormatException($"line {number} is not JSON: {e.Message}");
            }
        }

        return documents;
    }

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
