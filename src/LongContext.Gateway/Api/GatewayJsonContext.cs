using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LongContext.Gateway.Health;

namespace LongContext.Gateway.Api;

/// <summary>Source-generated serialization for the bodies the gateway writes itself.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(OpenAiErrorBody))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(ReadinessReport))]
[JsonSerializable(typeof(LivenessReport))]
[JsonSerializable(typeof(RouteDecisionView))]
[JsonSerializable(typeof(LongContext.Gateway.Corpora.VectorStoreView))]
[JsonSerializable(typeof(LongContext.Gateway.Corpora.VectorStoreList))]
[JsonSerializable(typeof(LongContext.Gateway.Corpora.VectorStoreDeleted))]
[JsonSerializable(typeof(LongContext.Gateway.Corpora.IngestionView))]
[JsonSerializable(typeof(LongContext.Gateway.Corpora.SearchResultsPage))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext
{
    /// <summary>
    /// Writes quotes and apostrophes in error messages as themselves rather than \u0027 escapes;
    /// bodies are always served as application/json, never embedded in HTML.
    /// </summary>
    public static GatewayJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
