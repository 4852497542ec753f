using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using LongContext.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Api;

/// <summary>Reads a request body as one JSON object, within the configured size and depth limits.</summary>
internal sealed class JsonBodyReader(IOptions<GatewaySettings> settings)
{
    private readonly LimitsConfig _limits = settings.Value.Gateway.Limits;

    public async Task<(JsonObject? Body, OpenAiErrorResult? Error)> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var limit = _limits.MaxRequestBodyBytes;
        if (request.ContentLength > limit)
        {
            return (null, OpenAiErrors.BodyTooLarge(limit));
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var length ? (int)length : 4096);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(8192);
                var read = await request.Body.ReadAsync(memory, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return (null, OpenAiErrors.BodyTooLarge(limit));
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, OpenAiErrors.BodyTooLarge(limit));
        }

        if (buffer.WrittenCount == 0)
        {
            return (null, OpenAiErrors.InvalidJson("the body is empty; send a JSON object."));
        }

        // The JSON reader checks string contents lazily; a body must be valid UTF-8 before anything uses it.
        if (!Utf8.IsValid(buffer.WrittenSpan))
        {
            return (null, OpenAiErrors.InvalidJson("the body is not valid UTF-8."));
        }

        JsonNode? node;
        try
        {
            // A property given twice is ambiguous (which one did the client mean?): refused, as is an escaped lone surrogate.
            node = JsonNode.Parse(buffer.WrittenSpan, documentOptions: new JsonDocumentOptions { MaxDepth = _limits.MaxJsonDepth, AllowDuplicateProperties = false });
            if (LoneSurrogate(buffer.WrittenSpan, _limits.MaxJsonDepth) is { } where)
            {
                return (null, OpenAiErrors.InvalidJson($"a string at byte {where + 1} escapes half of a UTF-16 surrogate pair (\\uD800-\\uDFFF without its other half)."));
            }
        }
        catch (JsonException e)
        {
            return (null, OpenAiErrors.InvalidJson(Describe(e)));
        }

        return node is JsonObject body
            ? (body, null)
            : (null, OpenAiErrors.InvalidJson("the body must be a JSON object."));
    }

    /// <summary>
    /// Where an escaped string holds a lone surrogate (raw bytes were checked as UTF-8 already; only
    /// \u escapes can produce one, and the JSON reader finds it only when the string is read), or null.
    /// </summary>
    private static long? LoneSurrogate(ReadOnlySpan<byte> json, int maxDepth)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = maxDepth });
        Span<char> scratch = stackalloc char[256];
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped)
            {
                continue;
            }

            try
            {
                var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                var destination = length <= scratch.Length ? scratch : new char[length];
                reader.CopyString(destination);
            }
            catch (InvalidOperationException)
            {
                return reader.TokenStartIndex;
            }
        }

        return null;
    }

    // JsonException messages quote the offending bytes' position, not request content, so they are safe to return.
    private static string Describe(JsonException e) =>
        e.LineNumber is { } line && e.BytePositionInLine is { } position
            ? $"{FirstSentence(e.Message)} (line {line + 1}, byte {position + 1})."
            : FirstSentence(e.Message) + ".";

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd('.');
    }
}
