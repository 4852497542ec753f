using System.Text.Json.Serialization;
using LongContext.Backend.Model;

namespace LongContext.Backend;

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DecoderConfig))]
internal sealed partial class BackendJsonContext : JsonSerializerContext;
