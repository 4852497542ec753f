using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongContext.Gateway.Api;

/// <summary>An embeddings request, checked for the fields the gateway relies on.</summary>
internal sealed record EmbeddingsRequest(JsonObject Body, string Model)
{
    public static (EmbeddingsRequest? Request, OpenAiErrorResult? Error) Parse(JsonObject body)
    {
        var error = JsonFields.RequiredString(body, "model", out var model)
            ?? ValidateInput(body)
            ?? JsonFields.OptionalInteger(body, "dimensions", 1, 65_536);
        return error is null ? (new EmbeddingsRequest(body, model), null) : (null, error);
    }

    private static OpenAiErrorResult? ValidateInput(JsonObject body)
    {
        if (!body.TryGetPropertyValue("input", out var input) || input is null)
        {
            return OpenAiErrors.MissingParameter("input");
        }

        switch (input)
        {
            case JsonValue when input.GetValueKind() == JsonValueKind.String:
                return null;
            case JsonArray { Count: 0 }:
                return OpenAiErrors.InvalidValue("input", "must not be an empty array.");
            case JsonArray items:
                // OpenAI accepts strings, token arrays, or arrays of token arrays; all items share one form.
                var first = items[0]?.GetValueKind();
                var uniform = items.All(item => item?.GetValueKind() == first)
                    && first is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.Array;
                return uniform ? null : OpenAiErrors.InvalidType("input", "a string, an array of strings, or an array of token arrays");
            default:
                return OpenAiErrors.InvalidType("input", "a string or an array");
        }
    }
}
