using LongContext.Backend.Checkpoints;
using LongContext.Backend.Training;
using static TorchSharp.torch;

namespace LongContext.Backend.Tests;

public sealed class TrainingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-train-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static TrainingOptions Short(int seed) => new()
    {
        Seed = seed,
        MinLength = 256,
        MaxLength = 300,
        Batch = 2,
        MaxSteps = 12,
        WarmupSteps = 2,
        EvaluateEvery = 6,
        Threads = 1,
    };

    [Fact]
    public void ShortRun_WritesALoadableCheckpoint_AndTheSameSeedGivesTheSameWeights()
    {
        var seed = Random.Shared.Next();
        var first = new ReferenceTrainer(Short(seed), _ => { }).Train(Path.Combine(_directory, "a"));
        new ReferenceTrainer(Short(seed), _ => { }).Train(Path.Combine(_directory, "b"));
        new ReferenceTrainer(Short(seed + 1), _ => { }).Train(Path.Combine(_directory, "c"));

        var (a, tokenizer) = Checkpoint.Load(Path.Combine(_directory, "a"), CPU);
        var (b, _) = Checkpoint.Load(Path.Combine(_directory, "b"), CPU);
        var (c, _) = Checkpoint.Load(Path.Combine(_directory, "c"), CPU);
        using (a)
        using (b)
        using (c)
        {
            Assert.Equal(300, a.Config.TrainingLength);
            Assert.Equal("The pass key is 1.", tokenizer.Decode(tokenizer.Encode("The pass key is 1.")));
            Assert.All(a.Parameters, p => Assert.True(p.Value.allclose(b[p.Key], 0, 0), p.Key));
            Assert.Contains(a.Parameters, p => !p.Value.allclose(c[p.Key], 0, 0));
            Assert.InRange(first.Accuracy, 0, 1);
            var header = SafeTensors.ReadHeader(Path.Combine(_directory, "a", "model.safetensors"), out _);
            Assert.Contains("model.layers.1.mlp.down_proj.weight", header.Keys);
        }
    }
}
