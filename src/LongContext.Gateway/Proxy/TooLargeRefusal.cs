using System.Net;
using System.Text.Json;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// Recognises an upstream's answer that says the request is too large for that upstream — its KV
/// cache would not fit (the self-hosted backend's <c>kv_cache_does_not_fit</c>) or the prompt
/// exceeds its context window (OpenAI's <c>context_length_exceeded</c>, vLLM's "maximum context
/// length" message) — as opposed to a request that is wrong everywhere. Such a refusal is not
/// passed on: the gateway routes the request to the next candidate.
/// </summary>
internal static class TooLargeRefusal
{
    public const string KvCacheDoesNotFit = "kv_cache_does_not_fit";
    public const string ContextLengthExceeded = "context_length_exceeded";

    /// <summary>Error bodies are small; anything larger is not read (and not a refusal).</summary>
    private const long MaxBodyBytes = 64 * 1024;

    /// <summary>The refusal as "code: message", or null when the response is anything else.</summary>
    public static async Task<string?> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity)
            || response.Content.Headers.ContentLength is > MaxBodyBytes
            || response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return null;
        }

        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return bytes.Length <= MaxBodyBytes ? Parse(bytes) : null;
    }

    internal static string? Parse(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (!document.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() ?? "" : "";
            if (code is KvCacheDoesNotFit or ContextLengthExceeded)
            {
                return $"{code}: {message}";
            }

            return message.Contains("maximum context length", StringComparison.OrdinalIgnoreCase) ? $"{ContextLengthExceeded}: {message}" : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
