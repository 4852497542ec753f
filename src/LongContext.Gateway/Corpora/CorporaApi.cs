using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Tenancy;
using LongContext.Rag.Corpora;
using LongContext.Rag.Retrieval;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Corpora;

/// <summary>
/// Tenants' corpora, shaped like OpenAI's vector stores API: create, list, get, delete, search;
/// documents are added as JSON, JSONL, plain text or markdown. Another tenant's corpus answers 404.
/// </summary>
internal static class CorporaApi
{
    public static RouteGroupBuilder MapCorporaApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/vector_stores", CreateAsync);
        v1.MapGet("/vector_stores", ListAsync);
        v1.MapGet("/vector_stores/{id}", GetAsync);
        v1.MapDelete("/vector_stores/{id}", DeleteAsync);
        v1.MapPost("/vector_stores/{id}/documents", AddDocumentsAsync);
        v1.MapPost("/vector_stores/{id}/search", SearchAsync);
        return v1;
    }

    public static OpenAiErrorResult NotFound(string id) => new(
        StatusCodes.Status404NotFound,
        new($"No vector store found with id '{id}'.", "invalid_request_error", "vector_store_id", "not_found"));

    private static async Task<IResult> CreateAsync(HttpContext context, JsonBodyReader reader, CorpusServices corpora)
    {
        JsonObject? body = null;
        if (context.Request.ContentLength is not 0)
        {
            var (parsed, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
            if (error is not null)
            {
                return error;
            }

            body = parsed;
        }

        var name = "";
        if (body?["name"] is { } nameNode)
        {
            if (nameNode.GetValueKind() != JsonValueKind.String)
            {
                return OpenAiErrors.InvalidType("name", "a string");
            }

            name = nameNode.GetValue<string>();
        }

        var corpus = await corpora.Store.CreateCorpusAsync(context.GetTenant().Id, name, corpora.Tokenizer, corpora.Dimensions, context.RequestAborted);
        return Json(VectorStoreView.From(corpus));
    }

    private static async Task<IResult> ListAsync(HttpContext context, CorpusServices corpora)
    {
        var list = await corpora.Store.ListCorporaAsync(context.GetTenant().Id, context.RequestAborted);
        var views = list.Select(VectorStoreView.From).ToList();
        return TypedResults.Json(new VectorStoreList("list", views, views.FirstOrDefault()?.Id, views.LastOrDefault()?.Id, false), GatewayJsonContext.Relaxed.VectorStoreList);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, CorpusServices corpora) =>
        await corpora.Store.GetCorpusAsync(context.GetTenant().Id, id, context.RequestAborted) is { } corpus ? Json(VectorStoreView.From(corpus)) : NotFound(id);

    private static async Task<IResult> DeleteAsync(string id, HttpContext context, CorpusServices corpora) =>
        await corpora.Store.DeleteCorpusAsync(context.GetTenant().Id, id, context.RequestAborted)
            ? TypedResults.Json(new VectorStoreDeleted(id, "vector_store.deleted", true), GatewayJsonContext.Relaxed.VectorStoreDeleted)
            : NotFound(id);

    private static async Task<IResult> AddDocumentsAsync(string id, HttpContext context, CorpusServices corpora, IOptions<GatewaySettings> settings)
    {
        var tenant = context.GetTenant();
        if (await corpora.Store.GetCorpusAsync(tenant.Id, id, context.RequestAborted) is null)
        {
            return NotFound(id);
        }

        // Ingestion bodies may be far larger than chat bodies.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = settings.Value.Corpora.MaxIngestBytes;
        }

        List<DocumentInput> documents;
        try
        {
            documents = await ReadDocumentsAsync(context.Request, context.RequestAborted);
        }
        catch (DocumentFormatException e)
        {
            return OpenAiErrors.InvalidValue("documents", e.Message);
        }
        catch (JsonException e)
        {
            return OpenAiErrors.InvalidJson(e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return OpenAiErrors.BodyTooLarge(settings.Value.Corpora.MaxIngestBytes);
        }

        if (documents.Count == 0)
        {
            return OpenAiErrors.InvalidValue("documents", "must contain at least one document.");
        }

        var streamProgress = context.Request.Headers.Accept.Any(a => a?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true);
        return streamProgress
            ? await IngestWithProgressAsync(context, corpora, tenant.Id, id, documents)
            : await IngestAsync(context, corpora, tenant.Id, id, documents);
    }

    private static async Task<IResult> IngestAsync(HttpContext context, CorpusServices corpora, string tenantId, string id, List<DocumentInput> documents)
    {
        try
        {
            var corpus = await corpora.Ingestor.IngestAsync(tenantId, id, documents, cancellationToken: context.RequestAborted);
            return TypedResults.Json(new IngestionView("vector_store.ingestion", "completed", documents.Count, corpus.ChunkCount, corpus.ChunkCount, VectorStoreView.From(corpus)), GatewayJsonContext.Relaxed.IngestionView);
        }
        catch (Exception e) when (e is DocumentFormatException or ArgumentException)
        {
            return OpenAiErrors.InvalidValue("documents", e.Message);
        }
        catch (KeyNotFoundException)
        {
            return NotFound(id);
        }
    }

    /// <summary>Server-sent progress events while the corpus is chunked and embedded, then the result (or the error).</summary>
    private static async Task<IResult> IngestWithProgressAsync(HttpContext context, CorpusServices corpora, string tenantId, string id, List<DocumentInput> documents)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var events = Channel.CreateUnbounded<IngestionView>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var ingestion = Task.Run(async () =>
        {
            try
            {
                var corpus = await corpora.Ingestor.IngestAsync(tenantId, id, documents, new ChannelProgress(events.Writer), context.RequestAborted);
                events.Writer.TryWrite(new IngestionView("vector_store.ingestion", "completed", documents.Count, corpus.ChunkCount, corpus.ChunkCount, VectorStoreView.From(corpus)));
                events.Writer.TryComplete();
            }
            catch (Exception e)
            {
                events.Writer.TryComplete(e);
            }
        });

        try
        {
            await foreach (var view in events.Reader.ReadAllAsync(context.RequestAborted))
            {
                await WriteEventAsync(response, JsonSerializer.Serialize(view, GatewayJsonContext.Relaxed.IngestionView), context.RequestAborted);
            }
        }
        catch (Exception e) when (e is DocumentFormatException or ArgumentException or KeyNotFoundException)
        {
            var error = OpenAiErrors.InvalidValue("documents", e.Message).Error;
            await WriteEventAsync(response, JsonSerializer.Serialize(new OpenAiErrorBody(error), GatewayJsonContext.Relaxed.OpenAiErrorBody), CancellationToken.None);
        }

        await ingestion;
        await response.WriteAsync("data: [DONE]\n\n", CancellationToken.None);
        return Results.Empty;
    }

    private static async Task<IResult> SearchAsync(string id, HttpContext context, JsonBodyReader reader, CorpusServices corpora)
    {
        var (body, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
        if (error is not null)
        {
            return error;
        }

        var invalid = JsonFields.RequiredString(body!, "query", out var query) ?? JsonFields.OptionalInteger(body!, "max_num_results", 1, 50);
        if (invalid is not null)
        {
            return invalid;
        }

        var limit = body!["max_num_results"] is JsonValue n && n.TryGetValue<int>(out var max) ? max : 10;
        var mode = RetrievalMode.Hybrid;
        if (body["mode"] is { } modeNode && (modeNode.GetValueKind() != JsonValueKind.String || !Enum.TryParse(modeNode.GetValue<string>(), ignoreCase: true, out mode)))
        {
            return OpenAiErrors.InvalidValue("mode", "must be hybrid, dense or keywords.");
        }

        try
        {
            var hits = await corpora.Retriever.RetrieveAsync(context.GetTenant().Id, id, query, mode, limit, context.RequestAborted);
            return TypedResults.Json(new SearchResultsPage("vector_store.search_results.page", query, [.. hits.Select(SearchResultView.From)], false, null), GatewayJsonContext.Relaxed.SearchResultsPage);
        }
        catch (KeyNotFoundException)
        {
            return NotFound(id);
        }
    }

    private static async Task<List<DocumentInput>> ReadDocumentsAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var type = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() ?? "";
        switch (type)
        {
            case "application/x-ndjson" or "application/jsonl" or "application/jsonlines":
            {
                using var text = new StreamReader(request.Body, Encoding.UTF8);
                var content = await text.ReadToEndAsync(cancellationToken);
                return CorpusIngestor.ParseJsonLines(new StringReader(content));
            }

            case "text/plain" or "text/markdown":
            {
                using var text = new StreamReader(request.Body, Encoding.UTF8);
                var content = await text.ReadToEndAsync(cancellationToken);
                var id = request.Query["id"].ToString();
                var name = request.Query["name"].ToString();
                return [new DocumentInput(string.IsNullOrEmpty(id) ? null : id, string.IsNullOrEmpty(name) ? null : name, content)];
            }

            default:
            {
                using var json = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
                if (json.RootElement.ValueKind != JsonValueKind.Object || !json.RootElement.TryGetProperty("documents", out var array) || array.ValueKind != JsonValueKind.Array)
                {
                    throw new DocumentFormatException("the body must be {\"documents\": [{\"id\", \"name\", \"text\"}, …]}, JSONL (application/x-ndjson), or text (text/plain, text/markdown).");
                }

                var documents = new List<DocumentInput>();
                var i = 0;
                foreach (var item in array.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    {
                        throw new DocumentFormatException($"documents[{i}] must be an object with a string \"text\".");
                    }

                    documents.Add(new DocumentInput(Optional(item, "id"), Optional(item, "name"), text.GetString()!));
                    i++;
                }

                return documents;
            }
        }
    }

    private static string? Optional(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static async Task WriteEventAsync(HttpResponse response, string json, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: " + json + "\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<VectorStoreView> Json(VectorStoreView view) => TypedResults.Json(view, GatewayJsonContext.Relaxed.VectorStoreView);

    private sealed class ChannelProgress(ChannelWriter<IngestionView> writer) : IProgress<IngestionProgress>
    {
        public void Report(IngestionProgress value) => writer.TryWrite(IngestionView.Progress(value));
    }
}
