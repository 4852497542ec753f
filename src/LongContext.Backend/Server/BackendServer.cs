using System.Globalization;
using System.Text.Json;
using LongContext.Backend.Checkpoints;
using LongContext.Backend.Generation;
using LongContext.Backend.Model;
using LongContext.Routing.Memory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace LongContext.Backend.Server;

/// <summary>A loaded model and what serving it needs: generator, metrics, the gate that bounds concurrent requests.</summary>
public sealed class BackendModel : IDisposable
{
    private readonly DecoderWeights _weights;

    private BackendModel(BackendOptions options, DecoderWeights weights, TextGenerator generator)
    {
        (Options, _weights, Generator) = (options, weights, generator);
        Gate = new SemaphoreSlim(options.Concurrency, options.Concurrency);
    }

    public BackendOptions Options { get; }

    public TextGenerator Generator { get; }

    public BackendMetrics Metrics { get; } = new();

    public SemaphoreSlim Gate { get; }

    public DecoderConfig Config => _weights.Config;

    public int MaxContextTokens => Options.MaxContextTokens ?? Config.MaxPositions;

    public long ParameterCount => _weights.ParameterCount;

    public static BackendModel Load(BackendOptions options, string baseDirectory)
    {
        options.Validate();
        if (options.Threads is { } threads)
        {
            set_num_threads(threads);
        }

        var directory = Path.IsPathRooted(options.ModelDirectory) ? options.ModelDirectory : Path.Combine(baseDirectory, options.ModelDirectory);
        var dtype = options.Dtype switch { "float16" => ScalarType.Float16, "bfloat16" => ScalarType.BFloat16, _ => ScalarType.Float32 };
        var (weights, tokenizer) = Checkpoint.Load(directory, new Device(options.Device), dtype);
        var ring = options.RingDevices.Select(d => new Device(d)).ToList();
        return new BackendModel(options, weights, new TextGenerator(new Decoder(weights, ring.Count > 0 ? ring : null), tokenizer));
    }

    /// <summary>KV bytes per device the request's cache will take, by the planner the router also uses.</summary>
    public long PlannedKvBytes(long tokens, AttentionSettings attention)
    {
        var shape = new KvCacheShape { Layers = Config.Layers, KvHeads = Config.KeyValueHeads, HeadDim = Config.HeadDimension, BytesPerValue = Options.Dtype == "float32" ? 4 : 2 };
        var layout = attention.Method switch
        {
            AttentionMethod.Infini => new KvLayout(TokenLimit: attention.InfiniSegmentTokens),
            AttentionMethod.Ring => new KvLayout(ShardedOverDevices: Options.RingDevices.Count > 1),
            _ => new KvLayout(CompressionRatio: attention.KvPolicy is KvPolicy.StreamingLlm or KvPolicy.HeavyHitter or KvPolicy.SnapKv ? attention.KvCompressionRatio : 1),
        };
        return KvMemoryPlanner.BytesPerDevice(shape, tokens, Math.Max(1, Options.RingDevices.Count), layout);
    }

    public void Dispose()
    {
        Generator.Decoder.Dispose();
        _weights.Dispose();
        Gate.Dispose();
    }
}

/// <summary>The OpenAI-compatible endpoints: chat and text completions (streaming or not, usage always), models, health, metrics.</summary>
public static class BackendServer
{
    /// <summary>Starts a Kestrel listener on <paramref name="urls"/> serving the model (port 0 picks a free port; see the returned app's Urls).</summary>
    public static async Task<WebApplication> StartAsync(BackendModel model, string urls, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        Map(app, model);
        await app.StartAsync(cancellationToken);
        return app;
    }

    public static void Map(IEndpointRouteBuilder app, BackendModel model)
    {
        app.MapGet("/healthz", () => Results.Json(new Dictionary<string, object> { ["status"] = "ok", ["model"] = model.Options.ServedModelId }));
        app.MapGet("/metrics", () => Results.Text(model.Metrics.Render(), "text/plain; version=0.0.4"));
        app.MapGet("/v1/models", () => Results.Json(new Dictionary<string, object>
        {
            ["object"] = "list",
            ["data"] = new[] { ModelObject(model) },
        }));
        app.MapGet("/v1/models/{id}", (string id) => id == model.Options.ServedModelId
            ? Results.Json(ModelObject(model))
            : Error(404, "model_not_found", $"The model '{id}' does not exist.", "model"));
        app.MapPost("/v1/chat/completions", (HttpContext context) => CompleteAsync(context, model, chat: true));
        app.MapPost("/v1/completions", (HttpContext context) => CompleteAsync(context, model, chat: false));
    }

    private static Dictionary<string, object> ModelObject(BackendModel model) => new()
    {
        ["id"] = model.Options.ServedModelId,
        ["object"] = "model",
        ["created"] = 0,
        ["owned_by"] = "lcg-backend",
        ["context_window"] = model.MaxContextTokens,
    };

    private static IResult Error(int status, string code, string message, string? param = null) => Results.Json(
        new Dictionary<string, object?> { ["error"] = new Dictionary<string, object?> { ["message"] = message, ["type"] = status >= 500 ? "server_error" : "invalid_request_error", ["param"] = param, ["code"] = code } },
        statusCode: status);

    private static async Task CompleteAsync(HttpContext context, BackendModel model, bool chat)
    {
        var endpoint = chat ? "chat" : "completions";
        var method = "-";
        try
        {
            JsonDocument document;
            try
            {
                document = await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 32 }, context.RequestAborted);
            }
            catch (JsonException e)
            {
                throw new BackendRequestException(400, "invalid_json", $"The body is not valid JSON: {e.Message}");
            }

            using (document)
            {
                var request = CompletionRequest.Parse(document.RootElement, chat, context.Request.Headers["X-LCG-Attention"].ToString(), model.Options);
                method = request.Attention.Method.ToString().ToLowerInvariant();
                if (request.Model != model.Options.ServedModelId)
                {
                    throw new BackendRequestException(404, "model_not_found", $"The model '{request.Model}' does not exist; this backend serves '{model.Options.ServedModelId}'.", "model");
                }

                var (prompt, queryStart) = Render(model, request);
                var total = prompt.Count + request.Sampling.MaxTokens;
                if (total > model.MaxContextTokens)
                {
                    throw new BackendRequestException(400, "context_length_exceeded", $"The prompt ({prompt.Count} tokens) plus max_tokens ({request.Sampling.MaxTokens}) is {total} tokens; this model takes at most {model.MaxContextTokens}.", "messages");
                }

                var kvBytes = model.PlannedKvBytes(total, request.Attention);
                if (model.Options.MaxKvBytes is { } limit && kvBytes > limit)
                {
                    throw new BackendRequestException(400, "kv_cache_does_not_fit", string.Create(CultureInfo.InvariantCulture, $"The KV cache for {total} tokens with {method} attention needs {kvBytes:N0} bytes per device; {limit:N0} are available (Backend:MaxKvBytes). Use fewer tokens, a KV policy, infini attention, or another route."), "messages");
                }

                await model.Gate.WaitAsync(context.RequestAborted);
                model.Metrics.KvInUse(kvBytes);
                try
                {
                    await WriteAsync(context, model, request, prompt, queryStart, chat);
                }
                finally
                {
                    model.Metrics.KvInUse(-kvBytes);
                    model.Gate.Release();
                }
            }

            model.Metrics.Request(endpoint, method, 200);
        }
        catch (BackendRequestException e)
        {
            model.Metrics.Request(endpoint, method, e.Status);
            await Error(e.Status, e.Code, e.Message, e.Param).ExecuteAsync(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            model.Metrics.Request(endpoint, method, 499);
        }
    }

    /// <summary>
    /// Chat messages become one text: the contents in order, separated by blank lines (the
    /// reference model was trained on plain text; checkpoints with chat templates get the same
    /// plain rendering). The query (for star) starts at the last message when there are several.
    /// </summary>
    private static (IReadOnlyList<int> Tokens, long QueryStart) Render(BackendModel model, CompletionRequest request)
    {
        var tokenizer = model.Generator.Tokenizer;
        var tokens = new List<int>();
        if (tokenizer.BeginId is { } begin)
        {
            tokens.Add(begin);
        }

        if (request.Prompt is { } prompt)
        {
            tokens.AddRange(tokenizer.Encode(prompt));
            return (tokens, Math.Max(0, tokens.Count - request.Attention.StarQueryTokens));
        }

        long lastMessage = 0;
        for (var i = 0; i < request.Messages.Count; i++)
        {
            lastMessage = tokens.Count;
            tokens.AddRange(tokenizer.Encode((i > 0 ? "\n\n" : "") + request.Messages[i].Content));
        }

        var queryStart = request.Messages.Count > 1 ? lastMessage : Math.Max(0, tokens.Count - request.Attention.StarQueryTokens);
        if (tokens.Count == 0)
        {
            throw new BackendRequestException(400, "invalid_request_error", "The prompt is empty.", "messages");
        }

        return (tokens, queryStart);
    }

    private static async Task WriteAsync(HttpContext context, BackendModel model, CompletionRequest request, IReadOnlyList<int> prompt, long queryStart, bool chat)
    {
        var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var updates = model.Generator.GenerateAsync(prompt, queryStart, request.Attention, request.Sampling, context.RequestAborted);
        context.Response.Headers["X-LCG-Attention"] = request.Attention.Method.ToString().ToLowerInvariant();
        if (!request.Stream)
        {
            var text = new System.Text.StringBuilder();
            GenerationUpdate? last = null;
            await foreach (var update in updates)
            {
                text.Append(update.Delta);
                last = update;
            }

            model.Metrics.Generation(last!.Stats!);
            var choice = chat
                ? new Dictionary<string, object?> { ["index"] = 0, ["message"] = new Dictionary<string, object> { ["role"] = "assistant", ["content"] = text.ToString() }, ["finish_reason"] = last.FinishReason }
                : new Dictionary<string, object?> { ["index"] = 0, ["text"] = text.ToString(), ["finish_reason"] = last.FinishReason };
            await Results.Json(new Dictionary<string, object>
            {
                ["id"] = id,
                ["object"] = chat ? "chat.completion" : "text_completion",
                ["created"] = created,
                ["model"] = model.Options.ServedModelId,
                ["choices"] = new[] { choice },
                ["usage"] = Usage(last.Stats!),
            }).ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var kind = chat ? "chat.completion.chunk" : "text_completion";
        Dictionary<string, object?> Chunk(object? delta, string? finish) => new()
        {
            ["id"] = id,
            ["object"] = kind,
            ["created"] = created,
            ["model"] = model.Options.ServedModelId,
            ["choices"] = new[] { chat ? new Dictionary<string, object?> { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish } : new Dictionary<string, object?> { ["index"] = 0, ["text"] = delta ?? "", ["finish_reason"] = finish } },
        };

        if (chat)
        {
            await SendAsync(context, Chunk(new Dictionary<string, object> { ["role"] = "assistant", ["content"] = "" }, null));
        }

        await foreach (var update in updates)
        {
            if (update.Delta.Length > 0)
            {
                await SendAsync(context, Chunk(chat ? new Dictionary<string, object> { ["content"] = update.Delta } : update.Delta, null));
            }

            if (update.FinishReason is { } finish)
            {
                model.Metrics.Generation(update.Stats!);
                await SendAsync(context, Chunk(chat ? new Dictionary<string, object>() : "", finish));
                // Usage always, in streams too: a last chunk with no choices, as OpenAI sends with include_usage.
                var usage = Chunk(null, null);
                usage["choices"] = Array.Empty<object>();
                usage["usage"] = Usage(update.Stats!);
                await SendAsync(context, usage);
            }
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    private static Dictionary<string, object> Usage(GenerationStats stats) => new()
    {
        ["prompt_tokens"] = stats.PromptTokens,
        ["completion_tokens"] = stats.CompletionTokens,
        ["total_tokens"] = stats.PromptTokens + stats.CompletionTokens,
    };

    private static async Task SendAsync(HttpContext context, object chunk)
    {
        await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
