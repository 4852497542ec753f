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
            Assert.True(a.allclose(b, 0, 0));
            Assert.Equal("The pass key is 12345.", tokenizer.Decode(ids));
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
