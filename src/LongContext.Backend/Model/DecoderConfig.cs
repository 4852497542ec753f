using System.Text.Json;
using System.Text.Json.Serialization;

namespace LongContext.Backend.Model;

/// <summary>
/// A Llama-family decoder's shape, read from a Hugging Face <c>config.json</c> (the field names
/// are Hugging Face's). Fields the format does not have are prefixed <c>lcg_</c>.
/// </summary>
public sealed record DecoderConfig
{
    [JsonPropertyName("vocab_size")] public required int VocabularySize { get; init; }

    [JsonPropertyName("hidden_size")] public required int HiddenSize { get; init; }

    [JsonPropertyName("intermediate_size")] public required int IntermediateSize { get; init; }

    [JsonPropertyName("num_hidden_layers")] public required int Layers { get; init; }

    [JsonPropertyName("num_attention_heads")] public required int Heads { get; init; }

    [JsonPropertyName("num_key_value_heads")] public int? KeyValueHeadsOrNull { get; init; }

    [JsonPropertyName("head_dim")] public int? HeadDimensionOrNull { get; init; }

    [JsonPropertyName("rms_norm_eps")] public double RmsNormEpsilon { get; init; } = 1e-5;

    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10_000;

    [JsonPropertyName("max_position_embeddings")] public int MaxPositions { get; init; } = 4096;

    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }

    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }

    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIds { get; init; }

    [JsonPropertyName("architectures")] public IReadOnlyList<string>? Architectures { get; init; }

    [JsonPropertyName("model_type")] public string? ModelType { get; init; }

    /// <summary>"bytes" for the byte-level vocabulary of the reference model; absent for checkpoints with their own tokenizer files.</summary>
    [JsonPropertyName("lcg_tokenizer")] public string? Tokenizer { get; init; }

    /// <summary>The length the model was trained at, when known: the router and the docs quote accuracy against it.</summary>
    [JsonPropertyName("lcg_training_length")] public int? TrainingLength { get; init; }

    [JsonIgnore] public int KeyValueHeads => KeyValueHeadsOrNull ?? Heads;

    [JsonIgnore] public int HeadDimension => HeadDimensionOrNull ?? HiddenSize / Heads;

    [JsonIgnore]
    public IReadOnlyList<int> EndTokenIds => EosTokenIds switch
    {
        { ValueKind: JsonValueKind.Number } one => [one.GetInt32()],
        { ValueKind: JsonValueKind.Array } many => [.. many.EnumerateArray().Select(e => e.GetInt32())],
        _ => [],
    };

    /// <summary>Checks the shape is one this decoder can run, naming the field that is not.</summary>
    public DecoderConfig Validate()
    {
        static void Positive(int value, string field)
        {
            if (value < 1)
            {
                throw new InvalidDataException($"config.json: {field} must be a positive integer (got {value}).");
            }
        }

        Positive(VocabularySize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(Layers, "num_hidden_layers");
        Positive(Heads, "num_attention_heads");
        Positive(KeyValueHeads, "num_key_value_heads");
        Positive(HeadDimension, "head_dim");
        if (Heads % KeyValueHeads != 0)
        {
            throw new InvalidDataException($"config.json: num_attention_heads ({Heads}) must be a multiple of num_key_value_heads ({KeyValueHeads}).");
        }

        if (HeadDimension % 2 != 0)
        {
            throw new InvalidDataException($"config.json: head_dim ({HeadDimension}) must be even for rotary position embeddings.");
        }

        if (ModelType is { } type && type is not ("llama" or "mistral" or "qwen2"))
        {
            throw new InvalidDataException($"config.json: model_type '{type}' is not a Llama-family decoder this backend runs (llama, mistral, qwen2).");
        }

        return this;
    }

    public static DecoderConfig Read(string path)
    {
        using var stream = File.OpenRead(path);
        return (JsonSerializer.Deserialize(stream, BackendJsonContext.Default.DecoderConfig) ?? throw new InvalidDataException($"{path} is empty.")).Validate();
    }

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, BackendJsonContext.Default.DecoderConfig));
}
