using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongContext.Gateway.Api;

/// <summary>Type checks for fields of a request body, each failing with the OpenAI error that names the field.</summary>
internal static class JsonFields
{
    public static OpenAiErrorResult? RequiredString(JsonObject body, string name, out string value)
    {
        value = "";
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return OpenAiErrors.MissingParameter(name);
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            return OpenAiErrors.InvalidType(name, "a string");
        }

        value = node.GetValue<string>();
        return value.Length == 0 ? OpenAiErrors.InvalidValue(name, "must not be empty.") : null;
    }

    public static OpenAiErrorResult? OptionalBoolean(JsonObject body, string name, string path, out bool value)
    {
        value = false;
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return null;
        }

        switch (node.GetValueKind())
        {
            case JsonValueKind.True:
                value = true;
                return null;
            case JsonValueKind.False:
                return null;
            default:
                return OpenAiErrors.InvalidType(path, "a boolean");
        }
    }

    public static OpenAiErrorResult? OptionalInteger(JsonObject body, string name, long min, long max)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<long>(out var value))
        {
            return OpenAiErrors.InvalidType(name, "an integer");
        }

        return value < min || value > max
            ? OpenAiErrors.InvalidValue(name, $"must be between {min} and {max} (was {value}).")
            : null;
    }

    public static OpenAiErrorResult? OptionalNumber(JsonObject body, string name, double min, double max)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.Number)
        {
            return OpenAiErrors.InvalidType(name, "a number");
        }

        var value = node.GetValue<double>();
        return value < min || value > max
            ? OpenAiErrors.InvalidValue(name, $"must be between {min} and {max} (was {value}).")
            : null;
    }

    public static OpenAiErrorResult? OptionalObject(JsonObject body, string name, out JsonObject? value)
    {
        value = null;
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return null;
        }

        value = node as JsonObject;
        return value is null ? OpenAiErrors.InvalidType(name, "an object") : null;
    }
}
