using LongContext.Backend.Model;
using LongContext.Backend.Tokenization;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace LongContext.Backend.Checkpoints;

/// <summary>
/// A model folder in the Hugging Face layout: config.json, one or several *.safetensors, and the
/// tokenizer (tokenizer.model, SentencePiece, through Microsoft.ML.Tokenizers; or the byte
/// vocabulary when config.json says <c>"lcg_tokenizer": "bytes"</c>).
/// </summary>
public static class Checkpoint
{
    public static (DecoderWeights Weights, ITextTokenizer Tokenizer) Load(string directory, Device device, ScalarType dtype = ScalarType.Float32)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"{directory} has no config.json: not a Hugging Face model folder.", configPath);
        }

        var config = DecoderConfig.Read(configPath);
        var files = Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new FileNotFoundException($"{directory} has no *.safetensors weights.");
        }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var file in files)
            {
                foreach (var (name, value) in SafeTensors.Load(file))
                {
                    if (!tensors.TryAdd(name, value))
                    {
                        value.Dispose();
                        throw new InvalidDataException($"Tensor '{name}' appears in more than one file of {directory}.");
                    }
                }
            }

            return (DecoderWeights.FromTensors(config, tensors, device, dtype), LoadTokenizer(directory, config));
        }
        finally
        {
            foreach (var value in tensors.Values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Writes weights and config in the same layout (one model.safetensors).</summary>
    public static void Save(string directory, DecoderWeights weights, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        weights.Config.Write(Path.Combine(directory, "config.json"));
        SafeTensors.Save(Path.Combine(directory, "model.safetensors"), weights.Parameters.ToDictionary(p => p.Key, p => (Tensor)p.Value), metadata);
    }

    private static ITextTokenizer LoadTokenizer(string directory, DecoderConfig config)
    {
        if (config.Tokenizer == "bytes")
        {
            return new ByteTokenizer();
        }

        var sentencePiece = Path.Combine(directory, "tokenizer.model");
        if (File.Exists(sentencePiece))
        {
            using var stream = File.OpenRead(sentencePiece);
            return new SentencePieceTextTokenizer(LlamaTokenizer.Create(stream, addBeginOfSentence: false), config);
        }

        throw new FileNotFoundException($"{directory} has no tokenizer.model (SentencePiece) and config.json does not name the byte vocabulary (\"lcg_tokenizer\": \"bytes\").");
    }

    private sealed class SentencePieceTextTokenizer(LlamaTokenizer tokenizer, DecoderConfig config) : ITextTokenizer
    {
        public IReadOnlyList<int> EndIds { get; } = config.EndTokenIds.Count > 0 ? config.EndTokenIds : [tokenizer.EndOfSentenceId];

        public int? BeginId => config.BosTokenId ?? tokenizer.BeginningOfSentenceId;

        public IReadOnlyList<int> Encode(string text) => tokenizer.EncodeToIds(text);

        public string Decode(IEnumerable<int> ids) => tokenizer.Decode(ids);
    }
}
