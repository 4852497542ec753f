using System.Text.Json.Serialization;

namespace LongContext.Gateway.Api;

/// <summary>OpenAI's model object.</summary>
internal sealed record ModelInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("owned_by")] string OwnedBy,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("object")] string Object = "model");

/// <summary>OpenAI's list envelope for models.</summary>
internal sealed record ModelList(
    [property: JsonPropertyName("data")] IReadOnlyList<ModelInfo> Data,
    [property: JsonPropertyName("object")] string Object = "list");
