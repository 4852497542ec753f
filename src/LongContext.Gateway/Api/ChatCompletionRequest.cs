using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongContext.Gateway.Api;

/// <summary>
/// A chat completion request as the client sent it, checked for the fields the gateway relies on.
/// The body stays a JSON tree: the gateway forwards every field it does not own unchanged.
/// </summary>
internal sealed record ChatCompletionRequest(JsonObject Body, string Model, bool Stream, bool IncludeUsage)
{
    /// <summary>The gateway's request extension; removed before the body goes upstream.</summary>
    public const string ExtensionField = "lcg";

    /// <summary>The output cap the client asked for (max_completion_tokens, else max_tokens).</summary>
    public long? MaxOutputTokens { get; init; }

    /// <summary>Number of choices asked for (n); each may use the whole output cap.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>lcg.route: a route the client asks for (rag, long_context, hybrid) or auto.</summary>
    public string? RouteOverride { get; init; }

    /// <summary>lcg.corpus: the id of one of the tenant's corpora to answer from.</summary>
    public string? Corpus { get; init; }

    /// <summary>lcg.documents: context to answer from, sent inline.</summary>
    public IReadOnlyList<InlineDocument> Documents { get; init; } = [];

    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal)
    {
        "system", "developer", "user", "assistant", "tool", "function",
    };

    /// <summary>Upper bound on requested output tokens; larger values are a client bug, not a real ask.</summary>
    private const long OutputTokensLimit = 1_000_000;

    public static (ChatCompletionRequest? Request, OpenAiErrorResult? Error) Parse(JsonObject body)
    {
        var error = JsonFields.RequiredString(body, "model", out var model)
            ?? ValidateMessages(body)
            ?? JsonFields.OptionalInteger(body, "max_tokens", 1, OutputTokensLimit)
            ?? JsonFields.OptionalInteger(body, "max_completion_tokens", 1, OutputTokensLimit)
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

        var (extension, extensionError) = ParseExtension(body);
        if (extensionError is not null)
        {
            return (null, extensionError);
        }

        return (new ChatCompletionRequest(body, model, stream, includeUsage)
        {
            MaxOutputTokens = IntegerOrNull(body, "max_completion_tokens") ?? IntegerOrNull(body, "max_tokens"),
            Choices = (int)(IntegerOrNull(body, "n") ?? 1),
            RouteOverride = extension.Route,
            Corpus = extension.Corpus,
            Documents = extension.Documents,
        }, null);
    }

    /// <summary>The message texts in order: string contents and the text parts of part arrays.</summary>
    public IEnumerable<string> MessageTexts()
    {
        foreach (var message in Body["messages"]!.AsArray())
        {
            switch (message!["content"])
            {
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    yield return value.GetValue<string>();
                    break;
                case JsonArray parts:
                    foreach (var part in parts)
                    {
                        if (part is JsonObject { } p && p["text"] is JsonValue text && text.GetValueKind() == JsonValueKind.String)
                        {
                            yield return text.GetValue<string>();
                        }
                    }

                    break;
            }
        }
    }

    public int MessageCount => Body["messages"]!.AsArray().Count;

    /// <summary>Request fields a plain text exchange cannot carry: a request using any of them is forwarded as sent, never rebuilt.</summary>
    private static readonly string[] BeyondText = ["tools", "functions", "tool_choice", "function_call", "response_format", "logprobs", "top_logprobs", "logit_bias", "audio", "modalities", "prediction"];

    /// <summary>
    /// Whether the request is a plain text conversation (system, developer, user and assistant
    /// messages of text, one choice, no tools or structured output): what the hybrid route can
    /// rebuild as its RAG step without losing anything the client asked for.
    /// </summary>
    public bool IsPlainConversation() =>
        Choices == 1
        && !BeyondText.Any(Body.ContainsKey)
        && Body["messages"]!.AsArray().All(m => m is JsonObject message
            && (string?)message["role"] is "system" or "developer" or "user" or "assistant"
            && !message.ContainsKey("tool_calls") && !message.ContainsKey("function_call")
            && message["content"] switch
            {
                JsonValue value => value.GetValueKind() == JsonValueKind.String,
                JsonArray parts => parts.All(p => (string?)p?["type"] == "text"),
                _ => false,
            });

    /// <summary>The conversation as (role, text) pairs, text parts joined; for requests that are <see cref="IsPlainConversation"/>.</summary>
    public IEnumerable<(string Role, string Text)> Conversation()
    {
        foreach (var message in Body["messages"]!.AsArray())
        {
            var role = (string?)message!["role"] ?? "user";
            var text = message["content"] switch
            {
                JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
                JsonArray parts => string.Join("\n", parts.Select(p => p?["text"]).OfType<JsonValue>().Select(t => t.GetValue<string>())),
                _ => "",
            };
            yield return (role == "developer" ? "system" : role, text);
        }
    }

    private static long? IntegerOrNull(JsonObject body, string name) =>
        body[name] is JsonValue value && value.TryGetValue<long>(out var number) ? number : null;

    /// <summary>The text of the last user message: what retrieval searches the corpus for.</summary>
    public string LastUserText()
    {
        var last = Body["messages"]!.AsArray().LastOrDefault(m => (string?)m?["role"] == "user");
        return last?["content"] switch
        {
            JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
            JsonArray parts => string.Join("\n", parts.Select(p => p?["text"]).OfType<JsonValue>().Where(t => t.GetValueKind() == JsonValueKind.String).Select(t => t.GetValue<string>())),
            _ => "",
        };
    }

    private static ((string? Route, string? Corpus, List<InlineDocument> Documents) Extension, OpenAiErrorResult? Error) ParseExtension(JsonObject body)
    {
        var documents = new List<InlineDocument>();
        var error = JsonFields.OptionalObject(body, ExtensionField, out var extension);
        if (error is not null || extension is null)
        {
            return ((null, null, documents), error);
        }

        string? corpus = null;
        if (extension["corpus"] is { } corpusNode)
        {
            if (corpusNode.GetValueKind() != JsonValueKind.String)
            {
                return ((null, null, documents), OpenAiErrors.InvalidType("lcg.corpus", "a string (a vector store id)"));
            }

            corpus = corpusNode.GetValue<string>();
        }

        string? route = null;
        if (extension["route"] is { } routeNode)
        {
            if (routeNode.GetValueKind() != JsonValueKind.String)
            {
                return ((null, null, documents), OpenAiErrors.InvalidType("lcg.route", "a string"));
            }

            route = routeNode.GetValue<string>();
        }

        if (extension["documents"] is { } documentsNode)
        {
            if (documentsNode is not JsonArray array)
            {
                return ((null, null, documents), OpenAiErrors.InvalidType("lcg.documents", "an array"));
            }

            for (var i = 0; i < array.Count; i++)
            {
                var path = $"lcg.documents[{i}]";
                switch (array[i])
                {
                    case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                        documents.Add(new InlineDocument($"doc-{i + 1}", value.GetValue<string>()));
                        break;
                    case JsonObject document when document["text"] is JsonValue text && text.GetValueKind() == JsonValueKind.String:
                        var id = document["id"] is JsonValue idValue && idValue.GetValueKind() == JsonValueKind.String ? idValue.GetValue<string>() : $"doc-{i + 1}";
                        documents.Add(new InlineDocument(id, text.GetValue<string>()));
                        break;
                    default:
                        return ((null, null, documents), OpenAiErrors.InvalidType(path, "a string or an object with a string 'text'"));
                }
            }
        }

        return ((route, corpus, documents), null);
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

/// <summary>A document the client sent with the request as context to answer from.</summary>
internal sealed record InlineDocument(string Id, string Text);
