using System.Text.Json.Serialization;
using LongContext.Backend.Checkpoints;
using LongContext.Backend.Model;

namespace LongContext.Backend;

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DecoderConfig))]
[JsonSerializable(typeof(Dictionary<string, SafeTensorEntry>))]
internal sealed partial class BackendJsonContext : JsonSerializerContext;
