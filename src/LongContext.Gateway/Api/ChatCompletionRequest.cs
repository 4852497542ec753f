using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongContext.Gateway.Api;

/// <summary>
/// A chat completion request as the client sent it, checked for the fields the gateway relies on.
/// The body stays a JSON tree: the gateway forwards every field it does not own unchanged.
/// </summary>
internal sealed record ChatCompletionRequest(JsonObject Body, string Model, bool Stream, bool IncludeUsage)
{
    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal)
    {
        "system", "developer", "user", "assistant", "tool", "function",
    };

    /// <summary>Upper bound on requested output tokens; larger values are a client bug, not a real ask.</summary>
    private const long MaxOutputTokens = 1_000_000;

    public static (ChatCompletionRequest? Request, OpenAiErrorResult? Error) Parse(JsonObject body)
    {
        var error = JsonFields.RequiredString(body, "model", out var model)
            ?? ValidateMessages(body)
            ?? JsonFields.OptionalInteger(body, "max_tokens", 1, MaxOutputTokens)
            ?? JsonFields.OptionalInteger(body, "max_completion_tokens", 1, MaxOutputTokens)
            ?? JsonFields.OptionalInteger(body, "n", 1, 128)
            ?? JsonFields.OptionalNumber(body, "temperature", 0, 2)
            ?? JsonFields.OptionalNumber(body, "top_p", 0, 1);
        if (error is not null)
        {
            return (null, error);
        }

        error = JsonFields.OptionalBoolean(body, "stream", "stream", out var stream);
        if (error is not null)
        {
            return (null, error);
        }

        error = JsonFields.OptionalObject(body, "stream_options", out var streamOptions);
        if (error is not null)
        {
            return (null, error);
        }

        var includeUsage = false;
        if (streamOptions is not null)
        {
            if (!stream)
            {
                return (null, OpenAiErrors.InvalidValue("stream_options", "is only allowed when 'stream' is true."));
            }

            error = JsonFields.OptionalBoolean(streamOptions, "include_usage", "stream_options.include_usage", out includeUsage);
            if (error is not null)
            {
                return (null, error);
            }
        }

        return (new ChatCompletionRequest(body, model, stream, includeUsage), null);
    }

    private static OpenAiErrorResult? ValidateMessages(JsonObject body)
    {
        if (!body.TryGetPropertyValue("messages", out var node) || node is null)
        {
            return OpenAiErrors.MissingParameter("messages");
        }

        if (node is not JsonArray messages)
        {
            return OpenAiErrors.InvalidType("messages", "an array");
        }

        if (messages.Count == 0)
        {
            return OpenAiErrors.InvalidValue("messages", "must contain at least one message.");
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var path = $"messages[{i}]";
            if (messages[i] is not JsonObject message)
            {
                return OpenAiErrors.InvalidType(path, "an object");
            }

            if (JsonFields.RequiredString(message, "role", out var role) is not null)
            {
                return OpenAiErrors.InvalidType($"{path}.role", "one of " + string.Join(", ", Roles));
            }

            if (!Roles.Contains(role))
            {
                return OpenAiErrors.InvalidValue($"{path}.role", $"'{role}' is not one of {string.Join(", ", Roles)}.");
            }

            if (message.TryGetPropertyValue("content", out var content) && content is not null
                && content.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Array))
            {
                return OpenAiErrors.InvalidType($"{path}.content", "a string or an array of content parts");
            }
        }

        return null;
    }
}
