using System.Text.Json.Serialization;

namespace LongContext.Rag.VectorStores.Embedded;

[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class RagJsonContext : JsonSerializerContext;
