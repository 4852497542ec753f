using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LongContext.Gateway.Tests.Infrastructure;

/// <summary>
/// A small OpenAI-compatible server on 127.0.0.1 standing in for a model provider.
/// What it does is chosen by the upstream model id and the last user message:
/// <list type="bullet">
/// <item>model <c>hang</c>: never answers (until the caller gives up);</item>
/// <item>model <c>rate-limited</c>: answers 429 in OpenAI's error shape;</item>
/// <item>model <c>too-large</c>: refuses every request as the self-hosted backend does when the KV cache would not fit (400 <c>kv_cache_does_not_fit</c>);</item>
/// <item>message <c>gate:NAME</c> with stream: sends one chunk, then waits for <see cref="Release"/>;</item>
/// <item>message containing <c>usage:P,C,K</c>: reports P prompt tokens, C completion tokens, K of the prompt cached
/// (otherwise 7 prompt, 3 completion).</item>
/// <item>last user message "What is the value of KEY?": answers "The value of KEY is N." when some message
/// contains "value of KEY is N", else the self-route marker when the request carries the self-route instruction
/// (<see cref="SelfRouteMarker"/>), else "I cannot tell."; streamed in pieces of 4 characters;</item>
/// </list>
/// Every other chat request is answered with "echo: " + the last user message.
/// </summary>
internal sealed class StubUpstream : IAsyncDisposable
{
    public const string ApiKey = "upstream-secret";

    /// <summary>The hybrid route's default insufficiency marker.</summary>
    public const string SelfRouteMarker = "[[INSUFFICIENT_CONTEXT]]";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();

    private StubUpstream(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Requests received, newest last.</summary>
    public ConcurrentQueue<ReceivedRequest> Received { get; } = new();

    public static async Task<StubUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var stub = new StubUpstream(app);
        app.MapPost("/v1/chat/completions", stub.ChatAsync);
        app.MapPost("/v1/embeddings", stub.EmbeddingsAsync);
        app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = "stub-chat", @object = "model", created = 0, owned_by = "stub" } } }));
        await app.StartAsync();
        stub.BaseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/v1/");
        return stub;
    }

    /// <summary>Lets a gated stream finish.</summary>
    public void Release(string gate) => Gate(gate).TrySetResult();

    /// <summary>Completes when the upstream has written every chunk of a gated stream.</summary>
    public Task Finished(string gate) => Gate("finished:" + gate).Task;

    public ReceivedRequest LastRequestWith(string marker) =>
        Received.Last(request => request.Body.Contains(marker, StringComparison.Ordinal));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static object Usage(string message)
    {
        var marker = System.Text.RegularExpressions.Regex.Match(message, @"usage:(\d+),(\d+),(\d+)");
        if (!marker.Success)
        {
            return new { prompt_tokens = 7, completion_tokens = 3, total_tokens = 10 };
        }

        var (prompt, completion, cached) = (long.Parse(marker.Groups[1].Value), long.Parse(marker.Groups[2].Value), long.Parse(marker.Groups[3].Value));
        return new { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion, prompt_tokens_details = new { cached_tokens = cached } };
    }

    private TaskCompletionSource Gate(string name) =>
        _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task ChatAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var body = JsonNode.Parse(request.Body)!.AsObject();
        var model = (string)body["model"]!;
        var lastUser = body["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!["content"]!.GetValue<string>();

        if (model == "hang")
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
            return;
        }

        if (model == "rate-limited")
        {
            context.Response.StatusCode = (int)HttpStatusCode.TooManyRequests;
            await context.Response.WriteAsJsonAsync(new { error = new { message = "Slow down.", type = "rate_limit_error", param = (string?)null, code = "rate_limit_exceeded" } });
            return;
        }

        if (model == "too-large")
        {
            context.Response.StatusCode = (int)HttpStatusCode.BadRequest;
            await context.Response.WriteAsJsonAsync(new { error = new { message = "The KV cache for 9000 tokens needs 9,216,000 bytes per device; 1,000,000 are available.", type = "invalid_request_error", param = "messages", code = "kv_cache_does_not_fit" } });
            return;
        }

        var answer = "echo: " + lastUser;
        var pieces = (string[]?)null;
        var question = System.Text.RegularExpressions.Regex.Match(lastUser, @"What is the value of ([\w-]+)\?");
        if (question.Success)
        {
            var key = question.Groups[1].Value;
            var everything = string.Join("\n", body["messages"]!.AsArray().Select(m => m!["content"]?.ToString()));
            var fact = System.Text.RegularExpressions.Regex.Match(everything, $@"value of {System.Text.RegularExpressions.Regex.Escape(key)} is (\d+)");
            answer = fact.Success ? $"The value of {key} is {fact.Groups[1].Value}." : everything.Contains(SelfRouteMarker, StringComparison.Ordinal) ? SelfRouteMarker : "I cannot tell.";
            pieces = [.. answer.Chunk(4).Select(c => new string(c))];
        }

        var usage = Usage(lastUser);
        if (body["stream"]?.GetValue<bool>() != true)
        {
            await context.Response.WriteAsJsonAsync(new
            {
                id = "chatcmpl-stub",
                @object = "chat.completion",
                created = 1_700_000_000,
                model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = answer }, finish_reason = "stop" } },
                usage,
            });
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var words = pieces ?? [.. answer.Split(' ').Select((w, i) => i == 0 ? w : " " + w)];
        for (var i = 0; i < words.Length; i++)
        {
            var delta = i == 0 ? (object)new { role = "assistant", content = words[i] } : new { content = words[i] };
            await WriteEventAsync(context, Chunk(model, delta, finishReason: null));
            if (i == 0 && lastUser.StartsWith("gate:", StringComparison.Ordinal))
            {
                await Gate(lastUser).Task.WaitAsync(context.RequestAborted);
            }
        }

        await WriteEventAsync(context, Chunk(model, new { }, finishReason: "stop"));
        if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            await WriteEventAsync(context, new { id = "chatcmpl-stub", @object = "chat.completion.chunk", created = 1_700_000_000, model, choices = Array.Empty<object>(), usage });
        }

        await context.Response.WriteAsync("data: [DONE]\n\n");
        await context.Response.Body.FlushAsync();
        if (lastUser.StartsWith("gate:", StringComparison.Ordinal))
        {
            Gate("finished:" + lastUser).TrySetResult();
        }
    }

    private async Task EmbeddingsAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var body = JsonNode.Parse(request.Body)!.AsObject();
        var inputs = body["input"] is JsonArray array ? array.Select(i => i!.ToJsonString()).ToArray() : [body["input"]!.ToJsonString()];
        var base64 = (string?)body["encoding_format"] == "base64";
        var data = inputs.Select((input, index) =>
        {
            // Deterministic vector: length of the input and its index, so tests can check the mapping.
            float[] vector = [input.Length, index, 0.5f];
            object embedding = base64 ? Convert.ToBase64String(MemoryMarshalBytes(vector)) : vector;
            return new { @object = "embedding", index, embedding };
        }).ToArray();
        await context.Response.WriteAsJsonAsync(new { @object = "list", data, model = (string)body["model"]!, usage = new { prompt_tokens = inputs.Length, total_tokens = inputs.Length } });
    }

    private static byte[] MemoryMarshalBytes(float[] vector) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()).ToArray();

    private async Task<ReceivedRequest> RecordAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var received = new ReceivedRequest(
            context.Request.Path,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            await reader.ReadToEndAsync());
        Received.Enqueue(received);
        return received;
    }

    private static object Chunk(string model, object delta, string? finishReason) => new
    {
        id = "chatcmpl-stub",
        @object = "chat.completion.chunk",
        created = 1_700_000_000,
        model,
        choices = new[] { new { index = 0, delta, finish_reason = finishReason } },
    };

    private static async Task WriteEventAsync(HttpContext context, object payload)
    {
        await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(payload) + "\n\n");
        await context.Response.Body.FlushAsync();
    }
}

internal sealed record ReceivedRequest(string Path, IReadOnlyDictionary<string, string> Headers, string Body);
