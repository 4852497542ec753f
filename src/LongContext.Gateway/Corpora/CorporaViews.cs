using System.Text.Json.Serialization;
using LongContext.Rag.Corpora;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores;

namespace LongContext.Gateway.Corpora;

/// <summary>A corpus in the shape of OpenAI's vector store object, plus its chunk and token counts.</summary>
internal sealed record VectorStoreView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("usage_bytes")] long UsageBytes,
    [property: JsonPropertyName("file_counts")] FileCountsView FileCounts,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("last_active_at")] long? LastActiveAt,
    [property: JsonPropertyName("metadata")] Dictionary<string, string> Metadata,
    [property: JsonPropertyName("chunk_count")] int ChunkCount,
    [property: JsonPropertyName("token_count")] long TokenCount,
    [property: JsonPropertyName("tokenizer")] string Tokenizer)
{
    public static VectorStoreView From(CorpusInfo corpus) => new(
        corpus.Id,
        "vector_store",
        corpus.CreatedAt.ToUnixTimeSeconds(),
        corpus.Name,
        corpus.TextBytes,
        new FileCountsView(0, corpus.DocumentCount, 0, 0, corpus.DocumentCount),
        "completed",
        null,
        [],
        corpus.ChunkCount,
        corpus.TokenCount,
        corpus.Tokenizer);
}

internal sealed record FileCountsView(
    [property: JsonPropertyName("in_progress")] int InProgress,
    [property: JsonPropertyName("completed")] int Completed,
    [property: JsonPropertyName("failed")] int Failed,
    [property: JsonPropertyName("cancelled")] int Cancelled,
    [property: JsonPropertyName("total")] int Total);

internal sealed record VectorStoreList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<VectorStoreView> Data,
    [property: JsonPropertyName("first_id")] string? FirstId,
    [property: JsonPropertyName("last_id")] string? LastId,
    [property: JsonPropertyName("has_more")] bool HasMore);

internal sealed record VectorStoreDeleted(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("deleted")] bool Deleted);

internal sealed record IngestionView(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("documents")] int Documents,
    [property: JsonPropertyName("chunks_done")] int ChunksDone,
    [property: JsonPropertyName("chunks")] int Chunks,
    [property: JsonPropertyName("vector_store")] VectorStoreView? VectorStore)
{
    public static IngestionView Progress(IngestionProgress p) => new("vector_store.ingestion", p.Stage, p.Documents, p.ChunksDone, p.Chunks, null);
}

internal sealed record SearchResultsPage(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("search_query")] string SearchQuery,
    [property: JsonPropertyName("data")] IReadOnlyList<SearchResultView> Data,
    [property: JsonPropertyName("has_more")] bool HasMore,
    [property: JsonPropertyName("next_page")] string? NextPage);

internal sealed record SearchResultView(
    [property: JsonPropertyName("file_id")] string FileId,
    [property: JsonPropertyName("filename")] string Filename,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("attributes")] SearchAttributes Attributes,
    [property: JsonPropertyName("content")] IReadOnlyList<SearchContent> Content)
{
    public static SearchResultView From(RetrievedChunk hit) => new(
        hit.Chunk.DocumentId,
        hit.Chunk.DocumentName,
        Math.Round(hit.Score, 6),
        new SearchAttributes(hit.Chunk.Ordinal, hit.Chunk.Start, hit.Chunk.End, hit.Chunk.Tokens, hit.DenseRank, hit.KeywordRank),
        [new SearchContent("text", hit.Chunk.Text)]);
}

internal sealed record SearchAttributes(
    [property: JsonPropertyName("chunk")] int Chunk,
    [property: JsonPropertyName("start")] int Start,
    [property: JsonPropertyName("end")] int End,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("dense_rank")] int? DenseRank,
    [property: JsonPropertyName("keyword_rank")] int? KeywordRank);

internal sealed record SearchContent(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("text")] string Text);
