using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LongContext.Gateway.Tests.Infrastructure;

/// <summary>
/// An OpenAI-compatible upstream on 127.0.0.1 that misbehaves on purpose, by upstream model id:
/// <list type="bullet">
/// <item><c>ok</c>: answers "ok: " + the last user message (streamed when asked, with usage);</item>
/// <item><c>fail-twice</c>: 503 for the first two requests with a given message, then as <c>ok</c>;</item>
/// <item><c>retry-after</c>: 429 with Retry-After: 1 for the first request with a given message, then as <c>ok</c>;</item>
/// <item><c>always-503</c>: 503 in OpenAI's error shape, every time;</item>
/// <item><c>garbage</c>: 200 with a body that is not JSON;</item>
/// <item><c>reset-mid-stream</c>: starts the answer (one chunk, or half a JSON body), then resets the connection;</item>
/// <item><c>slow</c>: waits 3 seconds before answering as <c>ok</c>;</item>
/// <item><c>trickle</c>: streams one chunk, then nothing until the gateway gives up on the request (counted by <see cref="Cancelled"/>).</item>
/// </list>
/// Usage is always 7 prompt and 3 completion tokens.
/// </summary>
internal sealed class FaultyUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<(string Model, string Message), int> _received = new();

    private FaultyUpstream(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>How many requests came for this upstream model with this last user message.</summary>
    public int Received(string model, string message) => _received.TryGetValue((model, message), out var count) ? count : 0;

    /// <summary>Completes when a <c>trickle</c> request with this message was cancelled by its caller.</summary>
    public Task Cancelled(string message) => _cancelled.GetOrAdd(message, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _cancelled = new();

    public static async Task<FaultyUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new FaultyUpstream(app);
        app.MapPost("/v1/chat/completions", upstream.ChatAsync);
        await app.StartAsync();
        upstream.BaseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/v1/");
        return upstream;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task ChatAsync(HttpContext context)
    {
        var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!.AsObject();
        var model = (string)body["model"]!;
        var message = body["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!["content"]!.ToString();
        var stream = body["stream"]?.GetValue<bool>() == true;
        var count = _received.AddOrUpdate((model, message), 1, (_, n) => n + 1);
        switch (model)
        {
            case "fail-twice" when count <= 2:
            case "always-503":
                await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "The engine is overloaded.");
                return;
            case "retry-after" when count == 1:
                context.Response.Headers.RetryAfter = "1";
                await ErrorAsync(context, StatusCodes.Status429TooManyRequests, "Slow down.");
                return;
            case "garbage":
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"id\": \"x\", \"choices\": [oops");
                return;
            case "reset-mid-stream":
                context.Response.ContentType = stream ? "text/event-stream" : "application/json";
                await context.Response.WriteAsync(stream ? Chunk(model, "partial ") : "{\"id\":\"x\",\"object\":\"chat.com");
                await context.Response.Body.FlushAsync();
                await Task.Delay(50);
                context.Abort();
                return;
            case "trickle":
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync(Chunk(model, "first "));
                await context.Response.Body.FlushAsync();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    _cancelled.GetOrAdd(message, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }

                return;
            case "slow":
                await Task.Delay(TimeSpan.FromSeconds(3), context.RequestAborted);
                break;
        }

        if (stream)
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync(Chunk(model, "ok: "));
            await context.Response.WriteAsync(Chunk(model, message));
            await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(new { id = "c", @object = "chat.completion.chunk", created = 0, model, choices = Array.Empty<object>(), usage = Usage }) + "\n\n");
            await context.Response.WriteAsync("data: [DONE]\n\n");
            return;
        }

        await context.Response.WriteAsJsonAsync(new
        {
            id = "c",
            @object = "chat.completion",
            created = 0,
            model,
            choices = new[] { new { index = 0, message = new { role = "assistant", content = "ok: " + message }, finish_reason = "stop" } },
            usage = Usage,
        });
    }

    private static readonly object Usage = new { prompt_tokens = 7, completion_tokens = 3, total_tokens = 10 };

    private static string Chunk(string model, string text) =>
        "data: " + JsonSerializer.Serialize(new { id = "c", @object = "chat.completion.chunk", created = 0, model, choices = new[] { new { index = 0, delta = new { content = text } } } }) + "\n\n";

    private static Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsync(
            JsonSerializer.Serialize(new { error = new { message, type = "server_error", param = (string?)null, code = (string?)null } }),
            Encoding.UTF8);
    }
}
