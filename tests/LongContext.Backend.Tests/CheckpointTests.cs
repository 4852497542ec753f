using LongContext.Backend.Checkpoints;
using LongContext.Backend.Model;
using static TorchSharp.torch;

namespace LongContext.Backend.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static DecoderWeights ByteModel() => DecoderWeights.Initialise(DecoderTests.RandomWeights().Config with { VocabularySize = Tokenization.ByteTokenizer.VocabularySize, Tokenizer = "bytes" }, Random.Shared.NextInt64());

    [Fact]
    public void SaveThenLoad_GivesTheSameTensorsAndLogits()
    {
        using var weights = ByteModel();
        Checkpoint.Save(_directory, weights);
        var (loaded, tokenizer) = Checkpoint.Load(_directory, CPU);
        using (loaded)
        {
            foreach (var (name, parameter) in weights.Parameters)
            {
                Assert.True(parameter.allclose(loaded[name], 0, 0), name);
            }

            using var noGrad = no_grad();
            var ids = tokenizer.Encode("The pass key is 12345.");
            var tokens = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]);
            using var a = new Decoder(weights).Forward(tokens, new Decoder(weights).NewCache(), new AttentionSettings());
            using var b = new Decoder(loaded).Forward(tokens, new Decoder(loaded).NewCache(), new AttentionSettings());
            // The tensors are bit-identical; the logits may differ in the last bits only, because the CPU
            // kernels pick their vectorised paths by the buffers' alignment, which differs after loading.
            Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-6), $"largest difference {(a - b).abs().max().item<float>()}");
            Assert.Equal("The pass key is 12345.", tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void SentencePieceTokenizerModel_IsLoadedWithTheCheckpoint_AndRoundTripsText()
    {
        // Letters and digits one by one, then merges by priority ("▁" marks a word start).
        string[] vocabulary = ["▁", .. "Thepaskyi12345.".Distinct().Select(c => c.ToString()), "▁T", "he", "▁p", "as", "▁pas", "ss", "▁pass", "▁k", "ey", "▁key", "▁i", "is", "▁is", "▁1", "23", "▁123", "45", "▁12345", "▁The"];
        var config = DecoderTests.RandomWeights().Config with { VocabularySize = 3 + 256 + vocabulary.Length };
        using var weights = DecoderWeights.Initialise(config, Random.Shared.NextInt64());
        Checkpoint.Save(_directory, weights);
        SentencePieceModels.Write(Path.Combine(_directory, "tokenizer.model"), vocabulary);

        var (loaded, tokenizer) = Checkpoint.Load(_directory, CPU);
        using (loaded)
        {
            var ids = tokenizer.Encode("The pass key is 12345.");
            string Piece(string p) => (3 + 256 + Array.IndexOf(vocabulary, p)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string[] expected = ["▁The", "▁pass", "▁key", "▁is", "▁12345", "."];
            Assert.Equal(string.Join(",", expected.Select(Piece)), string.Join(",", ids));
            Assert.Equal("The pass key is 12345.", tokenizer.Decode(ids));

            // Characters outside the vocabulary fall back to their UTF-8 bytes and come back whole.
            var unseen = tokenizer.Encode("Zé 7");
            Assert.Contains(3 + 'Z', unseen);
            Assert.Contains(3 + 0xC3, unseen);
            Assert.Equal("Zé 7", tokenizer.Decode(unseen));
            Assert.Equal(SentencePieceModels.Begin, tokenizer.BeginId);
            Assert.Equal([SentencePieceModels.End], tokenizer.EndIds);

            // And the model runs on those ids.
            using var noGrad = no_grad();
            using var decoder = new Decoder(loaded);
            using var cache = decoder.NewCache();
            using var logits = decoder.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]), cache, new AttentionSettings());
            Assert.Equal(config.VocabularySize, logits.shape[^1]);
        }
    }

    [Fact]
    public void HalfPrecisionTensors_AreReadAsFloat()
    {
        // A file written by hand in the format's F16 and BF16: 1.5 and -2 in each.
        var header = """{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}""";
        var path = Path.Combine(_directory, "half.safetensors");
        using (var file = new BinaryWriter(File.Create(path)))
        {
            file.Write((long)header.Length);
            file.Write(System.Text.Encoding.ASCII.GetBytes(header));
            file.Write(BitConverter.HalfToUInt16Bits((Half)1.5));
            file.Write(BitConverter.HalfToUInt16Bits((Half)(-2)));
            file.Write((ushort)(BitConverter.SingleToUInt32Bits(1.5f) >> 16));
            file.Write((ushort)(BitConverter.SingleToUInt32Bits(-2f) >> 16));
        }

        var tensors = SafeTensors.Load(path);
        Assert.Equal([1.5f, -2f], tensors["h"].data<float>().ToArray());
        Assert.Equal([1.5f, -2f], tensors["b"].data<float>().ToArray());
    }

    [Fact]
    public void BrokenFolders_FailNamingWhatIsWrong()
    {
        using var weights = ByteModel();
        Checkpoint.Save(_directory, weights);

        // A tensor missing.
        var tensors = SafeTensors.Load(Path.Combine(_directory, "model.safetensors"));
        tensors.Remove("model.layers.1.mlp.up_proj.weight");
        SafeTensors.Save(Path.Combine(_directory, "model.safetensors"), tensors);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_directory, CPU)).Message, StringComparison.Ordinal);

        // A corrupt header length.
        File.WriteAllBytes(Path.Combine(_directory, "model.safetensors"), [.. BitConverter.GetBytes(long.MaxValue), .. new byte[16]]);
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_directory, CPU)).Message, StringComparison.Ordinal);

        // A config that is not a decoder this backend runs.
        File.WriteAllText(Path.Combine(_directory, "config.json"), """{"vocab_size":258,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":3,"num_key_value_heads":2}""");
        Assert.Contains("num_key_value_heads", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_directory, CPU)).Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(_directory, "config.json"));
        Assert.Contains("config.json", Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(_directory, CPU)).Message, StringComparison.Ordinal);
    }
}
